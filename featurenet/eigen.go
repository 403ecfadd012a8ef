package featurenet

import "math"

// symEigen returns the eigenvalues of the symmetric n×n row-major matrix a
// and its eigenvectors as the columns of vecs (n×n row-major), so that
// a = vecs·diag(vals)·vecsᵀ. It leaves a as it is.
//
// It is the cyclic Jacobi method (Golub and Van Loan, "Matrix
// Computations", §8.5): each rotation zeroes one off-diagonal pair, and
// sweeps over all pairs repeat until the off-diagonal mass is negligible
// against the whole. It only uses the symmetric part of a: the input is
// symmetrized first, so the small asymmetry of a product computed in
// floating point does no harm.
func symEigen(a []float64, n int) (vals, vecs []float64) {
	m := make([]float64, n*n)
	for i := range n {
		for j := range n {
			m[i*n+j] = (a[i*n+j] + a[j*n+i]) / 2
		}
	}
	vecs = make([]float64, n*n)
	for i := range n {
		vecs[i*n+i] = 1
	}
	total := 0.0
	for _, v := range m {
		total += v * v
	}
	for sweep := 0; sweep < 100; sweep++ {
		off := 0.0
		for i := range n {
			for j := range n {
				if i != j {
					off += m[i*n+j] * m[i*n+j]
				}
			}
		}
		if off <= 1e-24*total || off == 0 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				rotate(m, vecs, n, p, q)
			}
		}
	}
	vals = make([]float64, n)
	for i := range n {
		vals[i] = m[i*n+i]
	}
	return vals, vecs
}

// rotate applies the Jacobi rotation in the (p, q) plane that zeroes
// m[p][q] and m[q][p] (m ← Jᵀ·m·J) and accumulates it into vecs (vecs ←
// vecs·J).
func rotate(m, vecs []float64, n, p, q int) {
	apq := m[p*n+q]
	if apq == 0 {
		return
	}
	// t = tan φ is the smaller root of t² + 2θt − 1 = 0, which keeps the
	// rotation under 45° and the iteration stable.
	theta := (m[q*n+q] - m[p*n+p]) / (2 * apq)
	t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
	if theta < 0 {
		t = -t
	}
	c := 1 / math.Sqrt(t*t+1)
	s := t * c
	for k := range n {
		mkp, mkq := m[k*n+p], m[k*n+q]
		m[k*n+p] = c*mkp - s*mkq
		m[k*n+q] = s*mkp + c*mkq
	}
	for k := range n {
		mpk, mqk := m[p*n+k], m[q*n+k]
		m[p*n+k] = c*mpk - s*mqk
		m[q*n+k] = s*mpk + c*mqk
	}
	for k := range n {
		vkp, vkq := vecs[k*n+p], vecs[k*n+q]
		vecs[k*n+p] = c*vkp - s*vkq
		vecs[k*n+q] = s*vkp + c*vkq
	}
	m[p*n+q], m[q*n+p] = 0, 0 // what the rotation made them, but for rounding
}
