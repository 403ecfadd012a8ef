package imageio

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // LoadImage reads JPEG
	_ "image/png"  // and PNG
	"math"
	"os"

	"golang.org/x/image/draw"
)

// LoadImage decodes the PNG or JPEG file at path (chosen by content, not
// by name).
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("imageio: decode %s: %w", path, err)
	}
	return img, nil
}

// TargetSize returns the size diffusers' VaeImageProcessor works at:
// width and height when positive, otherwise the image's own size, each
// rounded down to a multiple of multiple (the VAE scale factor, 8 for
// Stable Diffusion). It fails when a side would be zero.
func TargetSize(img image.Image, width, height, multiple int) (int, int, error) {
	if multiple <= 0 {
		return 0, 0, fmt.Errorf("%w: multiple %d", ErrShape, multiple)
	}
	b := img.Bounds()
	if width <= 0 {
		width = b.Dx()
	}
	if height <= 0 {
		height = b.Dy()
	}
	width -= width % multiple
	height -= height % multiple
	if width == 0 || height == 0 {
		return 0, 0, fmt.Errorf("%w: image %dx%d is smaller than %d pixels", ErrShape, b.Dx(), b.Dy(), multiple)
	}
	return width, height, nil
}

// ImageTensor converts img to a [1, 3, height, width] float32 tensor in
// [-1, 1] as VaeImageProcessor.preprocess does for an init image: drop
// alpha (PIL's convert("RGB")), resize when the size differs, scale bytes
// by 1/255 and map to 2x−1.
//
// diffusers resizes with PIL's Lanczos filter; this uses a Lanczos-3 kernel
// through golang.org/x/image/draw, which computes in floating point where
// PIL rounds to bytes between its two passes, so resized pixels can differ
// from PIL's by a level or two. Images already at the target size are
// converted exactly.
func ImageTensor(img image.Image, width, height int) ([]float32, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("%w: target size %dx%d", ErrShape, width, height)
	}
	rgb := toNRGBAOpaque(img)
	if rgb.Bounds().Dx() != width || rgb.Bounds().Dy() != height {
		dst := image.NewNRGBA(image.Rect(0, 0, width, height))
		lanczos3.Scale(dst, dst.Bounds(), rgb, rgb.Bounds(), draw.Src, nil)
		rgb = dst
	}
	out := make([]float32, 3*width*height)
	plane := width * height
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out[c*plane+i] = 2*(float32(rgb.Pix[4*i+c])/255) - 1
		}
	}
	return out, nil
}

// RGBTensor converts img to a [3, height, width] float32 tensor in
// [0, 1] at its own size, the input of super-resolution models: alpha is
// dropped without compositing (PIL's convert("RGB")), grey is repeated in
// the three channels, and bytes are scaled by 1/255.
func RGBTensor(img image.Image) []float32 {
	rgb := toNRGBAOpaque(img)
	plane := rgb.Bounds().Dx() * rgb.Bounds().Dy()
	out := make([]float32, 3*plane)
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out[c*plane+i] = float32(rgb.Pix[4*i+c]) / 255
		}
	}
	return out
}

// MaskTensor converts an inpainting mask to a [1, 1, height, width]
// float32 tensor of 0s and 1s as diffusers' mask processor does: convert
// to grey with PIL's "L" weights, resize (see ImageTensor), scale by 1/255
// and binarize at 0.5. White (1) marks the area to repaint.
func MaskTensor(img image.Image, width, height int) ([]float32, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("%w: target size %dx%d", ErrShape, width, height)
	}
	gray := toGrayL(img)
	if gray.Bounds().Dx() != width || gray.Bounds().Dy() != height {
		dst := image.NewGray(image.Rect(0, 0, width, height))
		lanczos3.Scale(dst, dst.Bounds(), gray, gray.Bounds(), draw.Src, nil)
		gray = dst
	}
	out := make([]float32, width*height)
	for i := range out {
		if float32(gray.Pix[i])/255 >= 0.5 {
			out[i] = 1
		}
	}
	return out, nil
}

// LoadMask reads a mask image file and converts it with MaskTensor.
func LoadMask(path string, width, height int) ([]float32, error) {
	img, err := LoadImage(path)
	if err != nil {
		return nil, err
	}
	return MaskTensor(img, width, height)
}

// lanczos3 is PIL's Lanczos filter: sinc(x)·sinc(x/3) on (−3, 3). The draw
// package widens it when shrinking, as PIL does, to avoid aliasing.
var lanczos3 = &draw.Kernel{Support: 3, At: func(t float64) float64 {
	t = math.Abs(t)
	if t >= 3 {
		return 0
	}
	return sinc(t) * sinc(t/3)
}}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// toNRGBAOpaque copies img's colour channels into an NRGBA image with
// alpha 255, discarding alpha without compositing, as PIL's convert("RGB")
// does. Pixels of non-premultiplied sources are copied exactly.
func toNRGBAOpaque(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl := rgb8(img, x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, bl, 255
			i += 4
		}
	}
	return out
}

// rgb8 returns the 8-bit, non-premultiplied colour of one pixel.
func rgb8(img image.Image, x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(x, y):]
		return p[0], p[1], p[2]
	case *image.NRGBA64:
		p := m.Pix[m.PixOffset(x, y):]
		return p[0], p[2], p[4] // high bytes, as PIL reduces 16-bit PNGs
	case *image.Gray:
		v := m.Pix[m.PixOffset(x, y)]
		return v, v, v
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return c.R, c.G, c.B
}

// toGrayL converts img to 8-bit grey with PIL's "L" transform,
// L = (19595·R + 38470·G + 7471·B + 2^15) >> 16, from the RGB that
// toNRGBAOpaque would give.
func toGrayL(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		b := g.Bounds()
		out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Copy(out, image.Point{}, g, b, draw.Src, nil)
		return out
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl := rgb8(img, x, y)
			out.Pix[i] = uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(bl) + 1<<15) >> 16)
			i++
		}
	}
	return out
}
