package watermark

import "math"

// The dwtDct rule (invisible-watermark's EmbedMaxDct.diffuse_dct_matrix
// and infer_dct_matrix). The block holds Haar approximation coefficients
// as they are; no DCT is taken.

// maxCoef returns the position of the largest |coefficient| among the
// 15 after the first, the first such on ties, as
// np.argmax(abs(block.flatten()[1:])) + 1 does.
func maxCoef(blk *[16]float64) int {
	pos, best := 1, math.Abs(blk[1])
	for k := 2; k < 16; k++ {
		if a := math.Abs(blk[k]); a > best {
			pos, best = k, a
		}
	}
	return pos
}

// quantize moves the magnitude a >= 0 to the quarter (bit 0) or three
// quarters (bit 1) of its step of 36.
func quantize(a float64, bit uint8) float64 {
	return (floorDiv(a, scale) + 0.25 + 0.5*float64(bit)) * scale
}

// floorDiv is numpy's floor division a // b for a >= 0, b > 0: the exact
// quotient (a - fmod(a, b)) / b, which math.Floor(a/b) is not when a/b
// rounds up to a whole number.
func floorDiv(a, b float64) float64 {
	div := (a - math.Mod(a, b)) / b
	q := math.Floor(div)
	if div-q > 0.5 {
		q++
	}
	return q
}

// halfStep reports whether a >= 0 lies in the upper half of its step of
// 36: (a % 36) > 18, the library's reading of a 1.
func halfStep(a float64) bool {
	return math.Mod(a, scale) > 0.5*scale
}

func embedMaxCoef(blk *[16]float64, bit uint8) {
	k := maxCoef(blk)
	if v := blk[k]; v >= 0 {
		blk[k] = quantize(v, bit)
	} else {
		blk[k] = -quantize(-v, bit)
	}
}

func inferMaxCoef(blk *[16]float64) uint8 {
	if halfStep(math.Abs(blk[maxCoef(blk)])) {
		return 1
	}
	return 0
}
