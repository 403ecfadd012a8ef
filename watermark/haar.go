package watermark

// The one-level 2-D Haar transform of PyWavelets (pywt.dwt2 and
// pywt.idwt2 with 'haar' and the default mode, on even-sized input),
// with every product and sum in the order its C code computes them, so
// results agree to the last bit. That matters: the 8-bit path truncates
// the inverse transform to bytes, and a value that pywt leaves at
// 99.99999999999999 must not come out here as 100.
//
// pywt transforms axis 0 (rows) first, then axis 1. Along an axis a pair
// (x0, x1) becomes
//
//	a = s*x1 + s*x0     (dec_lo = [s, s], applied to x[2i+1], x[2i])
//	d = -s*x1 + s*x0    (dec_hi = [-s, s])
//
// with s the filter tap 1/sqrt(2) rounded to the working precision, and
// the inverse gives x0 = s*a + s*d, x1 = s*a - s*d (rec_lo = [s, s],
// rec_hi = [s, -s]). Arrays of bytes are transformed in float64 and
// float32 arrays in float32, as pywt does.

type float interface{ ~float32 | ~float64 }

// haarTap returns 1/sqrt(2) rounded once to T, as pywt's coefficient
// tables hold it.
func haarTap[T float]() T {
	const s = 0.70710678118654752440084436210484903928483593768847
	return T(s)
}

// subbands holds the four quarter-size planes of dwt2, row-major with
// stride w: ca approximation, ch detail along axis 0 (pywt's cH), cv
// detail along axis 1 (cV), cd diagonal.
type subbands[T float] struct {
	h, w           int
	ca, ch, cv, cd []T
}

// haarPair is one step of pywt's downsampling convolution.
func haarPair[T float](s, x0, x1 T) (a, d T) {
	return T(s*x1) + T(s*x0), T(-s*x1) + T(s*x0)
}

// haarUnpair is one step of pywt's upsampling convolution.
func haarUnpair[T float](s, a, d T) (x0, x1 T) {
	sa, sd := T(s*a), T(s*d)
	return sa + sd, sa - sd
}

// dwt2 transforms the h x w plane x (h and w even; stride w) into b,
// reusing b's buffers.
func dwt2[T float](x []T, h, w int, b *subbands[T]) {
	s := haarTap[T]()
	hh, hw := h/2, w/2
	b.h, b.w = hh, hw
	n := hh * hw
	b.ca, b.ch, b.cv, b.cd = grow(b.ca, n), grow(b.ch, n), grow(b.cv, n), grow(b.cd, n)
	la := make([]T, w) // one row of the axis-0 approximation
	ld := make([]T, w) // and of the axis-0 detail
	for i := 0; i < hh; i++ {
		r0, r1 := x[2*i*w:][:w], x[(2*i+1)*w:][:w]
		for c := 0; c < w; c++ {
			la[c], ld[c] = haarPair(s, r0[c], r1[c])
		}
		ca, cv := b.ca[i*hw:][:hw], b.cv[i*hw:][:hw]
		ch, cd := b.ch[i*hw:][:hw], b.cd[i*hw:][:hw]
		for j := 0; j < hw; j++ {
			ca[j], cv[j] = haarPair(s, la[2*j], la[2*j+1])
			ch[j], cd[j] = haarPair(s, ld[2*j], ld[2*j+1])
		}
	}
}

// idwt2 inverts dwt2 into x as pywt.idwt2((ca, (ch, cv, cd))) does:
// axis 1 first, then axis 0. invisible-watermark passes its details back
// swapped, idwt2((ca, (cv, ch, cd))); callers do that by passing b with
// ch and cv exchanged.
func idwt2[T float](b *subbands[T], x []T) {
	s := haarTap[T]()
	w := 2 * b.w
	ra := make([]T, w) // one row of the axis-1 inverse of (ca, cv)
	rd := make([]T, w) // and of (ch, cd)
	for i := 0; i < b.h; i++ {
		ca, cv := b.ca[i*b.w:][:b.w], b.cv[i*b.w:][:b.w]
		ch, cd := b.ch[i*b.w:][:b.w], b.cd[i*b.w:][:b.w]
		for j := 0; j < b.w; j++ {
			ra[2*j], ra[2*j+1] = haarUnpair(s, ca[j], cv[j])
			rd[2*j], rd[2*j+1] = haarUnpair(s, ch[j], cd[j])
		}
		r0, r1 := x[2*i*w:][:w], x[(2*i+1)*w:][:w]
		for c := 0; c < w; c++ {
			r0[c], r1[c] = haarUnpair(s, ra[c], rd[c])
		}
	}
}

func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}
