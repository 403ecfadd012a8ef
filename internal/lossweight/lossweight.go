// Package lossweight computes per-pixel loss weights for training
// imagegen's decoders on the shapes pictures.
//
// It is not a loss: the scripts multiply a reconstruction error by these
// weights in their own training graphs.
package lossweight

// Outline writes into dst [size*size] the loss weight of each pixel of
// an NRGBA picture (pix, stride): 1, plus boost where a pixel of its 3x3
// neighbourhood has another color. The outline is what tells a small star
// from a small circle and it is a few percent of the pixels: under the
// plain L1 the decoder drew small stars as round dots, although their
// latents differ from those of circles.
func Outline(pix []uint8, stride, size int, boost float32, dst []float32) {
	differs := func(x, y, u, v int) bool {
		if u < 0 || v < 0 || u >= size || v >= size {
			return false
		}
		a, b := pix[y*stride+4*x:], pix[v*stride+4*u:]
		for c := range 3 {
			if d := int(a[c]) - int(b[c]); d > 8 || d < -8 {
				return true
			}
		}
		return false
	}
	for y := range size {
		for x := range size {
			w := float32(1)
		near:
			for v := y - 1; v <= y+1; v++ {
				for u := x - 1; u <= x+1; u++ {
					if differs(x, y, u, v) {
						w += boost
						break near
					}
				}
			}
			dst[y*size+x] = w
		}
	}
}
