package featurenet

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// gaussianStats returns Stats with the given mean and covariance.
func gaussianStats(mean []float64, cov ...float64) Stats {
	return Stats{N: 100, Mean: mean, Cov: cov}
}

// rotated returns R·diag(d)·Rᵀ for the 2x2 rotation R by angle.
func rotated(angle float64, d0, d1 float64) []float64 {
	c, s := math.Cos(angle), math.Sin(angle)
	return []float64{c*c*d0 + s*s*d1, c * s * (d0 - d1), c * s * (d0 - d1), s*s*d0 + c*c*d1}
}

// traceSqrt2 returns Tr √M for a 2x2 matrix M with nonnegative real
// eigenvalues: √λ1 + √λ2 = √(Tr M + 2√det M).
func traceSqrt2(tr, det float64) float64 { return math.Sqrt(tr + 2*math.Sqrt(det)) }

func TestFrechetDistanceStats(t *testing.T) {
	// Non-commuting covariances: Tr(Σa^½ Σb Σa^½)^½ has the eigenvalues of
	// Σa·Σb, whose trace and determinant give the 2x2 closed form.
	a := []float64{2, 0.5, 0.5, 1}
	b := []float64{1, -0.3, -0.3, 3}
	trAB := a[0]*b[0] + a[1]*b[2] + a[2]*b[1] + a[3]*b[3]
	detAB := (a[0]*a[3] - a[1]*a[2]) * (b[0]*b[3] - b[1]*b[2])
	tests := []struct {
		name string
		a, b Stats
		want float64
	}{
		{"identical", gaussianStats([]float64{1, 2}, 1, 0.5, 0.5, 2), gaussianStats([]float64{1, 2}, 1, 0.5, 0.5, 2), 0},
		{"means only", gaussianStats([]float64{0, 0}, 1, 0, 0, 1), gaussianStats([]float64{3, 4}, 1, 0, 0, 1), 25},
		// Diagonal covariances: Σ (√a_i − √b_i)².
		{"diagonal", gaussianStats([]float64{0, 0, 0}, 1, 0, 0, 0, 4, 0, 0, 0, 9), gaussianStats([]float64{1, 0, 0}, 4, 0, 0, 0, 1, 0, 0, 0, 0), 1 + 1 + 1 + 9},
		// Covariances sharing eigenvectors: the diagonal case in another basis.
		{"commuting", gaussianStats([]float64{0, 0}, rotated(0.7, 1, 4)...), gaussianStats([]float64{0, 0}, rotated(0.7, 9, 1)...), 4 + 1},
		{"non-commuting", gaussianStats([]float64{1, 1}, a...), gaussianStats([]float64{0, 1}, b...), 1 + 3 + 4 - 2*traceSqrt2(trAB, detAB)},
		{"point mass", gaussianStats([]float64{0, 0}, 0, 0, 0, 0), gaussianStats([]float64{0, 1}, 2, 0, 0, 3), 1 + 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][2]Stats{{tc.a, tc.b}, {tc.b, tc.a}} {
				got, err := order[0].FrechetDistance(order[1])
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got-tc.want) > 1e-9 {
					t.Errorf("got %.12g, want %.12g", got, tc.want)
				}
			}
		})
	}
}

func TestFrechetDistanceSamples(t *testing.T) {
	// One dimension: {0, 2} has mean 1, variance 2; {1, 5} mean 3,
	// variance 8; (1−3)² + (√2 − √8)² = 4 + 2.
	got, err := FrechetDistance([][]float64{{0}, {2}}, [][]float64{{1}, {5}})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-6) > 1e-12 {
		t.Errorf("got %v, want 6", got)
	}
}

func TestFrechetDistanceSymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(n, d int, scale float64) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = scale * rng.NormFloat64() * float64(j+1) / float64(d)
			}
			x[i][0] += x[i][d-1] // correlated
		}
		return x
	}
	for _, tc := range []struct{ n, d int }{{50, 8}, {20, 32}, {300, 64}} {
		a, b := draw(tc.n, tc.d, 1), draw(tc.n, tc.d, 1.5)
		ab, err := FrechetDistance(a, b)
		if err != nil {
			t.Fatal(err)
		}
		ba, err := FrechetDistance(b, a)
		if err != nil {
			t.Fatal(err)
		}
		aa, err := FrechetDistance(a, a)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ab-ba) > 1e-8*max(1, ab) {
			t.Errorf("n %d dim %d: d(a,b) %.12g, d(b,a) %.12g", tc.n, tc.d, ab, ba)
		}
		if ab <= 0 || aa > 1e-8 {
			t.Errorf("n %d dim %d: d(a,b) %.12g, want > 0; d(a,a) %.3g, want 0", tc.n, tc.d, ab, aa)
		}
	}
}

func TestStatsOf(t *testing.T) {
	s, err := StatsOf([][]float64{{1, 2}, {3, 2}, {2, 5}})
	if err != nil {
		t.Fatal(err)
	}
	wantMean := []float64{2, 3}
	// Deviations (−1,−1), (1,−1), (0,2), divided by N−1 = 2.
	wantCov := []float64{1, 0, 0, 3}
	for i, w := range wantMean {
		if math.Abs(s.Mean[i]-w) > 1e-12 {
			t.Errorf("mean[%d]: got %v, want %v", i, s.Mean[i], w)
		}
	}
	for i, w := range wantCov {
		if math.Abs(s.Cov[i]-w) > 1e-12 {
			t.Errorf("cov[%d]: got %v, want %v", i, s.Cov[i], w)
		}
	}
	if s.N != 3 || s.Dim() != 2 {
		t.Errorf("got N %d dim %d, want 3, 2", s.N, s.Dim())
	}
}

func TestFrechetDistanceErrors(t *testing.T) {
	two := [][]float64{{1, 2}, {3, 4}}
	tests := []struct {
		name string
		a, b [][]float64
		want error
	}{
		{"no samples", nil, two, ErrTooFewSamples},
		{"one sample", two, two[:1], ErrTooFewSamples},
		{"dims differ", two, [][]float64{{1, 2, 3}, {4, 5, 6}}, ErrDimension},
		{"ragged", [][]float64{{1, 2}, {3}}, two, ErrDimension},
		{"empty vectors", [][]float64{{}, {}}, two, ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FrechetDistance(tc.a, tc.b)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := (Stats{Mean: []float64{0}, Cov: []float64{1, 0}}).FrechetDistance(Stats{Mean: []float64{0}, Cov: []float64{1}}); !errors.Is(err, ErrDimension) {
		t.Errorf("malformed covariance: got %v, want %v", err, ErrDimension)
	}
}

func TestSymEigen(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 5, 40, 128} {
		a := make([]float64, n*n)
		for i := range n {
			for j := i; j < n; j++ {
				a[i*n+j] = rng.NormFloat64()
				a[j*n+i] = a[i*n+j]
			}
		}
		vals, vecs := symEigen(a, n)
		for i := range n {
			for j := range n {
				var rec, dot float64
				for k := range n {
					rec += vecs[i*n+k] * vals[k] * vecs[j*n+k]
					dot += vecs[k*n+i] * vecs[k*n+j]
				}
				if math.Abs(rec-a[i*n+j]) > 1e-9 {
					t.Fatalf("n %d: V·D·Vᵀ[%d][%d] got %v, want %v", n, i, j, rec, a[i*n+j])
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-9 {
					t.Fatalf("n %d: Vᵀ·V[%d][%d] got %v, want %v", n, i, j, dot, want)
				}
			}
		}
	}
}

func BenchmarkFrechetDistance128(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	draw := func() Stats {
		x := make([][]float64, 500)
		for i := range x {
			x[i] = make([]float64, 128)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64()
			}
		}
		s, _ := StatsOf(x)
		return s
	}
	sa, sb := draw(), draw()
	for b.Loop() {
		if _, err := sa.FrechetDistance(sb); err != nil {
			b.Fatal(err)
		}
	}
}
