package watermark

// OpenCV's BGR <-> YUV conversions (cv::cvtColor with COLOR_BGR2YUV and
// COLOR_YUV2BGR, modules/imgproc/src/color_yuv.simd.hpp), which
// invisible-watermark applies before and after its transform. For 8-bit
// pictures OpenCV works in 14-bit fixed point and rounds and saturates
// every channel to a byte, so the round trip through YUV is lossy: a
// marked picture differs from its original even where the mark leaves
// the U plane alone. Float pictures are converted in float32, with 0.5
// (not 128) as the chroma offset.

// Fixed-point coefficients, each the float one times 1<<14.
const (
	yuvShift = 14
	r2y      = 4899  // 0.299
	g2y      = 9617  // 0.587
	b2y      = 1868  // 0.114
	b2u      = 8061  // 0.492
	r2v      = 14369 // 0.877
	u2b      = 33292 // 2.032
	u2g      = -6472 // -0.395
	v2g      = -9519 // -0.581
	v2r      = 18678 // 1.140
	delta8   = 128 << yuvShift
)

// descale is OpenCV's CV_DESCALE: divide by 1<<14, rounding half up
// (the shift floors, also for negative numbers).
func descale(x int32) int32 { return (x + 1<<(yuvShift-1)) >> yuvShift }

func saturate8(x int32) uint8 {
	switch {
	case x < 0:
		return 0
	case x > 255:
		return 255
	}
	return uint8(x)
}

// lumaU8 is the Y of an 8-bit pixel; it never leaves [0, 255].
func lumaU8(r, g, b uint8) int32 {
	return descale(int32(b)*b2y + int32(g)*g2y + int32(r)*r2y)
}

// bgrToYUV8 converts one 8-bit pixel as cvtColor(COLOR_BGR2YUV) does.
func bgrToYUV8(r, g, b uint8) (y, u, v uint8) {
	l := lumaU8(r, g, b)
	u = saturate8(descale((int32(b)-l)*b2u + delta8))
	v = saturate8(descale((int32(r)-l)*r2v + delta8))
	return uint8(l), u, v
}

// uOfRGB8 is the U of bgrToYUV8 alone, all the decoder needs.
func uOfRGB8(r, g, b uint8) uint8 {
	return saturate8(descale((int32(b)-lumaU8(r, g, b))*b2u + delta8))
}

// yuvToBGR8 converts one 8-bit pixel as cvtColor(COLOR_YUV2BGR) does.
func yuvToBGR8(y, u, v uint8) (r, g, b uint8) {
	cb, cr, l := int32(u)-128, int32(v)-128, int32(y)
	b = saturate8(l + descale(cb*u2b))
	g = saturate8(l + descale(cb*u2g+cr*v2g))
	r = saturate8(l + descale(cr*v2r))
	return r, g, b
}

// Float coefficients, as float32 constants in OpenCV.
const (
	r2yF  float32 = 0.299
	g2yF  float32 = 0.587
	b2yF  float32 = 0.114
	b2uF  float32 = 0.492
	r2vF  float32 = 0.877
	u2bF  float32 = 2.032
	u2gF  float32 = -0.395
	v2gF  float32 = -0.581
	v2rF  float32 = 1.140
	halfF float32 = 0.5 // ColorChannel<float>::half(): the chroma offset of float pictures
)

// fma32 is a*b+c rounded once to float32, as the fused multiply-adds of
// OpenCV's vectorized float loops compute it. (The exact product of two
// float32 values fits a float64, so only the final sum is rounded twice,
// which changes a result only in cases too rare to matter here.)
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// bgrToYUVF converts one float pixel as cvtColor(COLOR_BGR2YUV) does on
// a float32 image (its vector loop, with fused multiply-adds).
func bgrToYUVF(b, g, r float32) (y, u, v float32) {
	y = fma32(b, b2yF, fma32(g, g2yF, r*r2yF))
	v = fma32(r-y, r2vF, halfF)
	u = fma32(b-y, b2uF, halfF)
	return y, u, v
}

// yuvToBGRF converts one float pixel back as cvtColor(COLOR_YUV2BGR)
// does on a float32 image; float results are not clamped.
func yuvToBGRF(y, u, v float32) (b, g, r float32) {
	cb, cr := u-halfF, v-halfF
	b = fma32(cb, u2bF, y)
	g = fma32(cr, v2gF, fma32(cb, u2gF, y))
	r = fma32(cr, v2rF, y)
	return b, g, r
}
