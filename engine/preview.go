package engine

import (
	"bytes"
	"image"
	"image/png"
)

// latentPreview draws the first picture's first three latent channels as
// RGB, each stretched to its own range: a rough picture of where the
// denoising is going, at latent resolution. It returns nil when the
// latents are not laid out as [n, C, h, w] (packed Flux latents).
func latentPreview(lat []float32, h, w, n int) []byte {
	if h <= 0 || w <= 0 || n <= 0 || len(lat)%(n*h*w) != 0 {
		return nil
	}
	c := len(lat) / (n * h * w)
	if c < 3 {
		return nil
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for ch := range 3 {
		plane := lat[ch*h*w : (ch+1)*h*w]
		lo, hi := plane[0], plane[0]
		for _, v := range plane {
			lo, hi = min(lo, v), max(hi, v)
		}
		span := hi - lo
		if span == 0 {
			span = 1
		}
		for i, v := range plane {
			img.Pix[4*i+ch] = uint8(255 * (v - lo) / span)
			img.Pix[4*i+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil
	}
	return buf.Bytes()
}
