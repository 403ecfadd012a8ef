package imageio

import (
	"fmt"
	"image"
	"math"
)

// Layout is the axis order of a batch of images in a flat []float32.
type Layout int

const (
	// NCHW is batch, channel, height, width: what the VAE decoder outputs.
	NCHW Layout = iota
	// NHWC is batch, height, width, channel: diffusers' output_type="np".
	NHWC
)

// Range is the value range of a float image.
type Range int

const (
	// Signed is [-1, 1], the VAE's range; conversions map it to [0, 1]
	// with x/2+0.5 first, as VaeImageProcessor.denormalize does.
	Signed Range = iota
	// Unit is [0, 1].
	Unit
)

// Denormalize maps a value in [-1, 1] to [0, 1] as diffusers does:
// (x/2 + 0.5).clamp(0, 1), in float32.
func Denormalize(x float32) float32 {
	v := x/2 + 0.5
	if v < 0 || v != v { // clamp maps NaN to 0 here; torch would keep NaN, which cannot reach a pixel anyway
		return 0
	}
	return min(v, 1)
}

// ToUint8 converts a value in [0, 1] to a byte as diffusers' numpy_to_pil
// does: (x * 255).round() in float32 with round-half-to-even, then uint8.
// Values outside [0, 1] are clamped first.
func ToUint8(x float32) uint8 {
	if !(x > 0) { // also NaN
		return 0
	}
	if x >= 1 {
		return 255
	}
	return uint8(math.RoundToEven(float64(float32(x * 255))))
}

// Postprocess converts VAE output, NCHW of the given shape in [-1, 1], to
// NHWC in [0, 1] in dst, exactly as VaeImageProcessor.postprocess with
// output_type="np" does. dst must have the length of src; it returns the
// NHWC shape.
func Postprocess(dst, src []float32, shape []int) ([]int, error) {
	n, c, h, w, err := dims4(shape, len(src))
	if err != nil {
		return nil, err
	}
	if len(dst) != len(src) {
		return nil, fmt.Errorf("%w: dst holds %d values, src %d", ErrShape, len(dst), len(src))
	}
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			plane := src[(b*c+ch)*h*w:][:h*w]
			out := dst[b*h*w*c:]
			for i, v := range plane {
				out[i*c+ch] = Denormalize(v)
			}
		}
	}
	return []int{n, h, w, c}, nil
}

// ToNRGBA converts a batch of float images with 1 (grey) or 3 (RGB)
// channels to opaque NRGBA images, pixel for pixel what diffusers' PIL
// output holds for the same tensor.
func ToNRGBA(data []float32, shape []int, layout Layout, r Range) ([]*image.NRGBA, error) {
	var n, c, h, w int
	var err error
	switch layout {
	case NCHW:
		n, c, h, w, err = dims4(shape, len(data))
	case NHWC:
		n, h, w, c, err = dims4(shape, len(data))
	default:
		return nil, fmt.Errorf("%w: unknown layout %d", ErrShape, layout)
	}
	if err != nil {
		return nil, err
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("%w: %d channels in %v, want 1 or 3", ErrShape, c, shape)
	}
	if r != Signed && r != Unit {
		return nil, fmt.Errorf("imageio: unknown range %d", r)
	}
	// Strides of channel and pixel in the flat data.
	chStride, pxStride := h*w, 1
	if layout == NHWC {
		chStride, pxStride = 1, c
	}
	out := make([]*image.NRGBA, n)
	for b := range out {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		base := data[b*c*h*w:][:c*h*w]
		for i := 0; i < h*w; i++ {
			px := img.Pix[4*i : 4*i+4]
			for k := 0; k < 3; k++ {
				v := base[i*pxStride+min(k, c-1)*chStride]
				if r == Signed {
					v = Denormalize(v)
				}
				px[k] = ToUint8(v)
			}
			px[3] = 255
		}
		out[b] = img
	}
	return out, nil
}

// dims4 checks that shape has four non-negative sizes whose product is n.
func dims4(shape []int, n int) (a, b, c, d int, err error) {
	if len(shape) != 4 {
		return 0, 0, 0, 0, fmt.Errorf("%w: %v is not 4-D", ErrShape, shape)
	}
	total, err := numElements(shape)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if total != n {
		return 0, 0, 0, 0, fmt.Errorf("%w: %v holds %d values, data has %d", ErrShape, shape, total, n)
	}
	return shape[0], shape[1], shape[2], shape[3], nil
}
