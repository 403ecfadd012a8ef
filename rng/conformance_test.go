package rng

import (
	"fmt"
	"math"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// tolerance is the largest absolute difference allowed from a PyTorch value.
const tolerance = 1e-6

type torchDraw struct {
	Shape []int     `json:"shape"`
	First []float64 `json:"first"`
	Sum   float64   `json:"sum"`
	SumSq float64   `json:"sumsq"`
	N     int       `json:"n"`
}

type torchSeed struct {
	Seed  uint64      `json:"seed"`
	Draws []torchDraw `json:"draws"`
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// assertClose fails t for every element of got farther than tolerance from
// want, naming the first few.
func assertClose(t *testing.T, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	bad := 0
	worst := 0.0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		worst = max(worst, d)
		if d > tolerance || math.IsNaN(d) {
			if bad < 5 {
				t.Errorf("[%d] got %.9g, want %.9g (diff %.3g)", i, got[i], want[i], d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values differ by more than %g (worst %.3g)", bad, len(want), tolerance, worst)
	}
}

func TestTorchRNGConformance(t *testing.T) {
	var seeds []torchSeed
	conformance.Case(t, "torch_rng", &seeds)
	if len(seeds) == 0 {
		t.Fatal("refs.json torch_rng has no entries")
	}
	for _, s := range seeds {
		g := New(s.Seed)
		for i, d := range s.Draws {
			t.Run(fmt.Sprintf("seed%d/draw%d%v", s.Seed, i, d.Shape), func(t *testing.T) {
				n := numel(d.Shape)
				if d.N != 0 && d.N != n {
					t.Fatalf("shape %v has %d elements, refs say %d", d.Shape, n, d.N)
				}
				got := make([]float32, n)
				g.Randn(got)
				assertClose(t, got[:len(d.First)], d.First)
				var sum, sumsq float64
				for _, v := range got {
					sum += float64(v)
					sumsq += float64(v) * float64(v)
				}
				if math.Abs(sum-d.Sum) > 1e-6*float64(n) || math.Abs(sumsq-d.SumSq) > 1e-6*float64(n) {
					t.Errorf("sum, sumsq = %.9g, %.9g; want %.9g, %.9g", sum, sumsq, d.Sum, d.SumSq)
				}
			})
		}
	}
}

func TestInitLatentsConformance(t *testing.T) {
	for _, name := range []string{"sd1/euler", "sdxl/euler"} {
		t.Run(name, func(t *testing.T) {
			var c struct {
				Seed        uint64            `json:"seed"`
				InitLatents conformance.Array `json:"init_latents"`
			}
			conformance.Case(t, name, &c)
			if len(c.InitLatents.Data) == 0 {
				t.Fatalf("case %s has no init_latents", name)
			}
			if n := numel(c.InitLatents.Shape); n != len(c.InitLatents.Data) {
				t.Fatalf("init_latents shape %v has %d elements, data %d", c.InitLatents.Shape, n, len(c.InitLatents.Data))
			}
			got := make([]float32, len(c.InitLatents.Data))
			New(c.Seed).Randn(got)
			assertClose(t, got, c.InitLatents.Data)
		})
	}
}
