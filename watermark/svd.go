package watermark

import "math"

// The dwtDctSvd rule (invisible-watermark's EmbedDwtDctSvd.diffuse_dct_svd
// and infer_dct_svd): the largest singular value of cv2.dct(block) is
// quantized with step 36. The 4x4 DCT is orthonormal, so the DCT of a
// block has the singular values of the block itself, and changing the
// largest one and transforming back, idct(U diag(s') V), equals adding
// (s0' - s0) u v^T to the block, with u and v the block's own top
// singular vectors. That is what is computed here, in float64; the
// library's DCT and LAPACK round differently in the last bits, which
// decides a bit only when s0 sits within rounding of a multiple of 18.

func inferSingular(blk *[16]float64) uint8 {
	s, _, _ := topSingular(blk)
	if halfStep(s) {
		return 1
	}
	return 0
}

func embedSingular(blk *[16]float64, bit uint8) {
	s, u, v := topSingular(blk)
	d := quantize(s, bit) - s
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			blk[r*4+c] += d * u[r] * v[c]
		}
	}
}

// topSingular returns the largest singular value s of the 4x4 block (row-
// major) and unit vectors u, v with block*v = s*u, by one-sided Jacobi
// rotations (Hestenes' method), which is accurate to a few ulps.
func topSingular(blk *[16]float64) (s float64, u, v [4]float64) {
	a := *blk          // columns are rotated until orthogonal
	var vm [16]float64 // accumulated rotations, row-major
	for i := 0; i < 4; i++ {
		vm[i*4+i] = 1
	}
	for sweep := 0; sweep < 30; sweep++ {
		rotated := false
		for p := 0; p < 3; p++ {
			for q := p + 1; q < 4; q++ {
				var alpha, beta, gamma float64
				for r := 0; r < 4; r++ {
					ap, aq := a[r*4+p], a[r*4+q]
					alpha += ap * ap
					beta += aq * aq
					gamma += ap * aq
				}
				if gamma == 0 || math.Abs(gamma) <= 1e-17*math.Sqrt(alpha*beta) {
					continue
				}
				rotated = true
				zeta := (beta - alpha) / (2 * gamma)
				t := math.Copysign(1, zeta) / (math.Abs(zeta) + math.Sqrt(1+zeta*zeta))
				c := 1 / math.Sqrt(1+t*t)
				sn := c * t
				for r := 0; r < 4; r++ {
					ap, aq := a[r*4+p], a[r*4+q]
					a[r*4+p], a[r*4+q] = c*ap-sn*aq, sn*ap+c*aq
					vp, vq := vm[r*4+p], vm[r*4+q]
					vm[r*4+p], vm[r*4+q] = c*vp-sn*vq, sn*vp+c*vq
				}
			}
		}
		if !rotated {
			break
		}
	}
	best := -1.0
	col := 0
	for c := 0; c < 4; c++ {
		var n float64
		for r := 0; r < 4; r++ {
			n += a[r*4+c] * a[r*4+c]
		}
		if n > best {
			best, col = n, c
		}
	}
	s = math.Sqrt(best)
	for r := 0; r < 4; r++ {
		v[r] = vm[r*4+col]
		if s > 0 {
			u[r] = a[r*4+col] / s
		}
	}
	return s, u, v
}
