package featurenet

import (
	"errors"
	"fmt"
	"math"
)

// ErrTooFewSamples is returned (wrapped) by StatsOf and FrechetDistance
// for fewer than two feature vectors: one vector has no covariance.
var ErrTooFewSamples = errors.New("featurenet: too few samples")

// ErrDimension is returned (wrapped) by StatsOf, FrechetDistance and
// Stats.FrechetDistance when feature vectors (or two Stats) differ in
// length.
var ErrDimension = errors.New("featurenet: mismatched feature dimensions")

// Stats are the mean and covariance of a set of feature vectors: what the
// Fréchet distance reads of each set, so a caller can compute the real
// pictures' Stats once and compare many generated sets against them.
type Stats struct {
	N    int       // number of vectors
	Mean []float64 // [Dim]
	// Cov is the unbiased covariance (divided by N−1, as numpy.cov and
	// FID's reference code), Dim×Dim row-major.
	Cov []float64
}

// Dim returns the length of the feature vectors s describes.
func (s Stats) Dim() int { return len(s.Mean) }

// StatsOf returns the mean and covariance of x, at least two vectors of
// one length.
func StatsOf(x [][]float64) (Stats, error) {
	if len(x) < 2 {
		return Stats{}, fmt.Errorf("%w: %d feature vectors, need at least 2", ErrTooFewSamples, len(x))
	}
	d := len(x[0])
	if d == 0 {
		return Stats{}, fmt.Errorf("%w: empty feature vectors", ErrDimension)
	}
	mean := make([]float64, d)
	for i, v := range x {
		if len(v) != d {
			return Stats{}, fmt.Errorf("%w: vector %d has %d values, vector 0 has %d", ErrDimension, i, len(v), d)
		}
		for j, f := range v {
			mean[j] += f
		}
	}
	for j := range mean {
		mean[j] /= float64(len(x))
	}
	cov := make([]float64, d*d)
	c := make([]float64, d)
	for _, v := range x {
		for j := range v {
			c[j] = v[j] - mean[j]
		}
		for j := range d {
			row := cov[j*d : j*d+d]
			for k := j; k < d; k++ {
				row[k] += c[j] * c[k]
			}
		}
	}
	for j := range d {
		for k := j; k < d; k++ {
			cov[j*d+k] /= float64(len(x) - 1)
			cov[k*d+j] = cov[j*d+k]
		}
	}
	return Stats{N: len(x), Mean: mean, Cov: cov}, nil
}

// FrechetDistance returns the Fréchet distance between the Gaussians
// fitted to feature sets a and b (each at least two vectors of one
// length): FID's formula, applied to whatever features are given.
func FrechetDistance(a, b [][]float64) (float64, error) {
	sa, err := StatsOf(a)
	if err != nil {
		return 0, fmt.Errorf("first set: %w", err)
	}
	sb, err := StatsOf(b)
	if err != nil {
		return 0, fmt.Errorf("second set: %w", err)
	}
	return sa.FrechetDistance(sb)
}

// FrechetDistance returns the Fréchet distance between the Gaussians of s
// and o (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
// Converge to a Local Nash Equilibrium"):
//
//	‖μs − μo‖² + Tr(Σs + Σo − 2 (Σs^½ Σo Σs^½)^½)
//
// Both square roots are of symmetric positive semidefinite matrices and
// are taken through a symmetric eigendecomposition (eigenvalues that
// rounding leaves slightly negative count as 0), so the result is real
// even for singular covariances (fewer vectors than dimensions), and
// symmetric in s and o up to rounding. It is never negative.
func (s Stats) FrechetDistance(o Stats) (float64, error) {
	d := s.Dim()
	if d == 0 || o.Dim() != d || len(s.Cov) != d*d || len(o.Cov) != d*d {
		return 0, fmt.Errorf("%w: means of %d and %d values, covariances of %d and %d", ErrDimension, s.Dim(), o.Dim(), len(s.Cov), len(o.Cov))
	}
	dist := 0.0
	for i := range d {
		diff := s.Mean[i] - o.Mean[i]
		dist += diff*diff + s.Cov[i*d+i] + o.Cov[i*d+i]
	}
	root := sqrtPSD(s.Cov, d)
	m := mulMat(mulMat(root, o.Cov, d), root, d)
	vals, _ := symEigen(m, d)
	for _, v := range vals {
		dist -= 2 * math.Sqrt(max(v, 0))
	}
	return max(dist, 0), nil
}

// sqrtPSD returns the symmetric square root V·diag(√λ)·Vᵀ of the symmetric
// positive semidefinite n×n matrix a.
func sqrtPSD(a []float64, n int) []float64 {
	vals, vecs := symEigen(a, n)
	out := make([]float64, n*n)
	for k, v := range vals {
		r := math.Sqrt(max(v, 0))
		if r == 0 {
			continue
		}
		for i := range n {
			f := r * vecs[i*n+k]
			row := out[i*n : i*n+n]
			for j := range n {
				row[j] += f * vecs[j*n+k]
			}
		}
	}
	return out
}

// mulMat returns the product of the n×n row-major matrices a and b.
func mulMat(a, b []float64, n int) []float64 {
	out := make([]float64, n*n)
	for i := range n {
		row := out[i*n : i*n+n]
		for k := range n {
			f := a[i*n+k]
			if f == 0 {
				continue
			}
			bk := b[k*n : k*n+n]
			for j := range n {
				row[j] += f * bk[j]
			}
		}
	}
	return out
}
