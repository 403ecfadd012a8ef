package rng

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// The schedulers draw per-step noise through this interface.
var _ interface{ Randn(dst []float32) } = (*Generator)(nil)

func TestMT19937KnownOutputs(t *testing.T) {
	// std::mt19937 seeded with its default 5489: the C++ standard requires
	// the 10000th output to be 4123659995.
	var m mt19937
	m.seed(5489)
	tests := []struct {
		index int // 1-based position in the output stream
		want  uint32
	}{
		{1, 3499211612},
		{2, 581869302},
		{10000, 4123659995},
	}
	pos := 0
	for _, tt := range tests {
		var got uint32
		for pos < tt.index {
			got = m.uint32()
			pos++
		}
		if got != tt.want {
			t.Errorf("output %d = %d, want %d", tt.index, got, tt.want)
		}
	}
}

func TestSeedUsesLow32Bits(t *testing.T) {
	tests := []struct{ a, b uint64 }{
		{5, 1<<32 + 5},
		{0, 1 << 63},
		{math.MaxUint32, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_vs_%d", tt.a, tt.b), func(t *testing.T) {
			x, y := make([]float32, 40), make([]float32, 40)
			New(tt.a).Randn(x)
			New(tt.b).Randn(y)
			for i := range x {
				if x[i] != y[i] {
					t.Fatalf("[%d] %v != %v", i, x[i], y[i])
				}
			}
			if got := New(tt.b).InitialSeed(); got != tt.b {
				t.Errorf("InitialSeed() = %d, want %d", got, tt.b)
			}
		})
	}
}

func TestSeedResetsState(t *testing.T) {
	g := New(3)
	first := make([]float32, 5) // odd size leaves a cached normal behind
	g.Randn(first)
	g.Seed(3)
	again := make([]float32, 5)
	g.Randn(again)
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("[%d] after Seed got %v, want %v", i, again[i], first[i])
		}
	}
}

func TestGeneratorsAreIndependent(t *testing.T) {
	a, b := New(11), New(11)
	x := make([]float32, 3)
	a.Randn(x) // advances a only
	y, z := make([]float32, 20), make([]float32, 20)
	New(11).Randn(y)
	b.Randn(z)
	for i := range y {
		if y[i] != z[i] {
			t.Fatalf("[%d] drawing from one generator changed another", i)
		}
	}
}

func TestRandRange(t *testing.T) {
	g := New(9)
	u := make([]float32, 10000)
	g.Rand(u)
	for i, v := range u {
		if !(v >= 0 && v < 1) {
			t.Fatalf("[%d] = %v outside [0, 1)", i, v)
		}
		if v*(1<<24) != float32(math.Trunc(float64(v)*(1<<24))) {
			t.Fatalf("[%d] = %v is not a multiple of 2^-24", i, v)
		}
	}
}

func TestRandnEmpty(t *testing.T) {
	g := New(1)
	g.Randn(nil)
	g.Rand(nil)
	got := make([]float32, 1)
	g.Randn(got)
	want := make([]float32, 1)
	New(1).Randn(want)
	if got[0] != want[0] {
		t.Errorf("empty draws consumed randomness: got %v, want %v", got[0], want[0])
	}
}

func TestNewWithKernel(t *testing.T) {
	tests := []struct {
		kernel  Kernel
		name    string
		wantErr error
	}{
		{KernelAVX2, "avx2", nil},
		{KernelPortable, "default", nil},
		{Kernel(7), "Kernel(7)", ErrUnknownKernel},
		{Kernel(-1), "Kernel(-1)", ErrUnknownKernel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.kernel.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			g, err := NewWithKernel(1, tt.kernel)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && g.Kernel() != tt.kernel {
				t.Errorf("Kernel() = %v, want %v", g.Kernel(), tt.kernel)
			}
		})
	}
}

// TestKernelsAgree bounds how far the AVX2 and portable kernels drift apart
// over a large draw: they share the uniforms and differ only in rounding.
func TestKernelsAgree(t *testing.T) {
	a := make([]float32, 1<<16)
	b := make([]float32, 1<<16)
	New(77).Randn(a)
	p, err := NewWithKernel(77, KernelPortable)
	if err != nil {
		t.Fatal(err)
	}
	p.Randn(b)
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	if worst > 1e-5 {
		t.Errorf("kernels differ by %g, want < 1e-5", worst)
	}
}

func TestCephesAccuracy(t *testing.T) {
	for i := 1; i < 1<<16; i++ {
		u := float32(i) / (1 << 16)
		if d := math.Abs(float64(logCephes(u)) - math.Log(float64(u))); d > 4e-7*math.Max(1, math.Abs(math.Log(float64(u)))) {
			t.Fatalf("logCephes(%v) off by %g", u, d)
		}
		x := float32(2*math.Pi) * u
		s, c := sincosCephes(x)
		if ds, dc := math.Abs(float64(s)-math.Sin(float64(x))), math.Abs(float64(c)-math.Cos(float64(x))); ds > 2e-7 || dc > 2e-7 {
			t.Fatalf("sincosCephes(%v) off by %g, %g", x, ds, dc)
		}
	}
	if v := logCephes(0); !math.IsNaN(float64(v)) {
		t.Errorf("logCephes(0) = %v, want NaN", v)
	}
}

func TestFMA32(t *testing.T) {
	tests := []struct{ a, b, c, want float32 }{
		{2, 3, 1, 7},
		{1 + 1.0/(1<<12), 1 + 1.0/(1<<12), -1, 1.0/(1<<11) + 1.0/(1<<24)}, // product not representable, sum is
		{1, 1, 1.0 / (1 << 24), 1},                                        // exact tie rounds to even
		// (1+2^-12)² = 1+2^-11+2^-24 is halfway between two float32 values;
		// a tiny c decides the direction although float64 cannot hold it.
		{1 + 1.0/(1<<12), 1 + 1.0/(1<<12), 1.0 / (1 << 60), 1 + 1.0/(1<<11) + 1.0/(1<<23)},
		{1 + 1.0/(1<<12), 1 + 1.0/(1<<12), -1.0 / (1 << 60), 1 + 1.0/(1<<11)},
	}
	for _, tt := range tests {
		if got := fma32(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("fma32(%v, %v, %v) = %v, want %v", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}

func BenchmarkRandn(b *testing.B) {
	for _, k := range []Kernel{KernelAVX2, KernelPortable} {
		b.Run(k.String()+"/1x4x128x128", func(b *testing.B) {
			g, _ := NewWithKernel(0, k)
			dst := make([]float32, 4*128*128)
			b.SetBytes(int64(4 * len(dst)))
			b.ReportAllocs()
			for b.Loop() {
				g.Randn(dst)
			}
		})
	}
}

func BenchmarkRand(b *testing.B) {
	g := New(0)
	dst := make([]float32, 4*128*128)
	b.SetBytes(int64(4 * len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		g.Rand(dst)
	}
}
