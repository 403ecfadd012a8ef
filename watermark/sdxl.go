package watermark

import (
	"fmt"
	"math/bits"
)

// SDXLMessage is the payload diffusers' StableDiffusionXLWatermarker
// embeds in SDXL outputs (WATERMARK_MESSAGE in
// pipelines/stable_diffusion_xl/watermark.py, taken from Stability AI's
// generative-models).
const SDXLMessage uint64 = 0b101100111110110010010000011110111011000110011110

// SDXLBits returns SDXLMessage as the 48 bits diffusers embeds
// (WATERMARK_BITS: bin(WATERMARK_MESSAGE)[2:], most significant bit
// first; the message's top bit is 1, so no leading zero is lost).
func SDXLBits() []uint8 {
	n := bits.Len64(SDXLMessage)
	out := make([]uint8, n)
	for i := range out {
		out[i] = uint8(SDXLMessage >> (n - 1 - i) & 1)
	}
	return out
}

// sdxlMinWidth is the width under which diffusers returns pictures
// unmarked ("can't encode images that are smaller than 256").
const sdxlMinWidth = 256

// ApplySDXL marks a batch of decoded pictures in place as diffusers'
// StableDiffusionXLWatermarker.apply_watermark does, before the pipeline
// post-processes them: images is float32 NCHW of the given shape
// [N, 3, H, W] in [-1, 1], as the VAE decodes it, and holds the marked
// pictures in [-1, 1] afterwards.
//
// Step by step, as diffusers (since April 2024, its pull request 7013;
// before, RGB went in unreversed) and invisible-watermark compute it, all
// in float32: x -> 255*(x/2+0.5); RGB reversed to BGR; dwtDct with
// SDXLBits on the float picture (YUV and Haar transforms in float32,
// nothing rounded to bytes, chroma offset 0.5); back to RGB;
// clamp(2*(x/255-0.5), -1, 1).
//
// Like diffusers it leaves pictures narrower than 256 pixels unmarked and
// checks only the width; a picture 256 or more wide but under 256*256
// pixels is refused by invisible-watermark, and is ErrTooSmall here.
func ApplySDXL(images []float32, shape []int) error {
	return applyWatermarker(images, shape, SDXLBits())
}

// applyWatermarker is ApplySDXL with any payload.
func applyWatermarker(images []float32, shape []int, payload []uint8) error {
	if len(shape) != 4 || shape[1] != 3 || shape[0] < 0 || shape[2] < 1 || shape[3] < 1 {
		return fmt.Errorf("%w: images shape %v, want [N, 3, H, W]", ErrShape, shape)
	}
	n, h, w := shape[0], shape[2], shape[3]
	if len(images) != n*3*h*w {
		return fmt.Errorf("%w: %d values for shape %v", ErrShape, len(images), shape)
	}
	if w < sdxlMinWidth {
		return nil
	}
	if err := checkSize(w, h); err != nil {
		return err
	}
	r, _ := ruleFor(DwtDct)
	plane := h * w
	for i := 0; i < n; i++ {
		img := images[i*3*plane:][:3*plane]
		red, green, blue := img[:plane], img[plane:2*plane], img[2*plane:]
		for k := range red {
			red[k], green[k], blue[k] = toPixelScale(red[k]), toPixelScale(green[k]), toPixelScale(blue[k])
		}
		// The channels reach the encoder reversed, as it expects BGR.
		encodeFloat(blue, green, red, w, h, payload, r)
		for k := range red {
			red[k], green[k], blue[k] = fromPixelScale(red[k]), fromPixelScale(green[k]), fromPixelScale(blue[k])
		}
	}
	return nil
}

// toPixelScale is diffusers' 255 * (x / 2 + 0.5), in float32.
func toPixelScale(x float32) float32 {
	return 255 * (x/2 + 0.5)
}

// fromPixelScale is torch.clamp(2 * (x / 255 - 0.5), -1, 1).
func fromPixelScale(x float32) float32 {
	v := 2 * (x/255 - 0.5)
	switch {
	case v < -1:
		return -1
	case v > 1:
		return 1
	}
	return v
}

// encodeFloat marks a float32 picture, given as its b, g, r planes (h x w)
// in [0, 255], in place, as WatermarkEncoder().encode does for a float32
// BGR array.
func encodeFloat(b, g, r []float32, w, h int, bits []uint8, rl rule) {
	n := w * h
	y, u, v := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := 0; i < n; i++ {
		y[i], u[i], v[i] = bgrToYUVF(b[i], g[i], r[i])
	}
	w4, h4 := w/4*4, h/4*4
	plane := make([]float32, w4*h4)
	for row := 0; row < h4; row++ {
		copy(plane[row*w4:][:w4], u[row*w:][:w4])
	}
	markPlane(plane, w4, h4, bits, rl)
	for row := 0; row < h4; row++ {
		copy(u[row*w:][:w4], plane[row*w4:][:w4])
	}
	for i := 0; i < n; i++ {
		b[i], g[i], r[i] = yuvToBGRF(y[i], u[i], v[i])
	}
}
