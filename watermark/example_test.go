package watermark_test

import (
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/imagegen/imagegen/watermark"
)

// picture returns a 256x256 test picture with some texture: on smooth
// gradients invisible-watermark's dwtDct misreads many bits, and so does
// this package, which reads what the library reads.
func picture() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 256, 256))
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			img.SetNRGBA(x, y, color.NRGBA{100, 120, uint8(40 + (x*7+y*13)%170), 255})
		}
	}
	return img
}

func ExampleEncode() {
	payload, err := watermark.ParseHex("c0ffee42")
	if err != nil {
		log.Fatal(err)
	}
	marked, err := watermark.Encode(picture(), payload, watermark.DwtDct)
	if err != nil {
		log.Fatal(err)
	}
	bits, err := watermark.Decode(marked, len(payload), watermark.DwtDct)
	if err != nil {
		log.Fatal(err)
	}
	c, err := watermark.Compare(bits, payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("read %s: %d of %d bits match, p = %.2g\n", watermark.FormatHex(bits), c.Matching, c.Bits, c.PValue)
	// Output:
	// read c0ffee42: 32 of 32 bits match, p = 2.3e-10
}

func ExampleSDXLBits() {
	fmt.Println(watermark.FormatHex(watermark.SDXLBits()), len(watermark.SDXLBits()))
	// Output:
	// b3ec907bb19e 48
}

func ExampleApplySDXL() {
	// One decoded picture, NCHW in [-1, 1], as an SDXL pipeline holds it
	// before post-processing.
	const h, w = 256, 256
	img := picture()
	x := make([]float32, 3*h*w)
	for i := 0; i < h*w; i++ {
		for c := 0; c < 3; c++ {
			x[c*h*w+i] = float32(img.Pix[4*i+c])/127.5 - 1
		}
	}
	if err := watermark.ApplySDXL(x, []int{1, 3, h, w}); err != nil {
		log.Fatal(err)
	}
	out := image.NewNRGBA(img.Rect)
	for i := 0; i < h*w; i++ {
		for c := 0; c < 3; c++ {
			v := (x[c*h*w+i]/2 + 0.5) * 255
			out.Pix[4*i+c] = uint8(min(max(v+0.5, 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	bits, err := watermark.Decode(out, 48, watermark.DwtDct)
	if err != nil {
		log.Fatal(err)
	}
	c, _ := watermark.Compare(bits, watermark.SDXLBits())
	fmt.Println("SDXL mark found:", c.Match())
	// Output:
	// SDXL mark found: true
}
