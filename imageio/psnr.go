package imageio

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// PSNR returns the peak signal-to-noise ratio of b against a in dB, over
// the red, green and blue channels at 8 bits, not premultiplied (alpha is ignored): 10·log10
// of 255² over the mean squared difference, +Inf for identical pictures.
// It is how far a quantized or otherwise approximated model's picture is
// from the reference's for the same seed. The pictures must be the same
// size (ErrShape otherwise).
func PSNR(a, b image.Image) (float64, error) {
	ra, rb := a.Bounds(), b.Bounds()
	if ra.Dx() != rb.Dx() || ra.Dy() != rb.Dy() || ra.Empty() {
		return 0, fmt.Errorf("%w: PSNR of a %dx%d and a %dx%d picture", ErrShape, ra.Dx(), ra.Dy(), rb.Dx(), rb.Dy())
	}
	var sum float64
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			c1 := color.NRGBAModel.Convert(a.At(ra.Min.X+x, ra.Min.Y+y)).(color.NRGBA)
			c2 := color.NRGBAModel.Convert(b.At(rb.Min.X+x, rb.Min.Y+y)).(color.NRGBA)
			for _, d := range [3]float64{
				float64(c1.R) - float64(c2.R), float64(c1.G) - float64(c2.G), float64(c1.B) - float64(c2.B),
			} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*ra.Dx()*ra.Dy())
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/mse), nil
}
