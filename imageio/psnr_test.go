package imageio_test

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/imagegen/imagegen/imageio"
)

func ExamplePSNR() {
	a := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	b := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i := range a.Pix {
		a.Pix[i], b.Pix[i] = 100, 100
		if i%4 == 3 {
			a.Pix[i], b.Pix[i] = 255, 255
		}
	}
	b.SetNRGBA(0, 0, color.NRGBA{110, 100, 100, 255}) // one channel of one pixel off by 10
	p, _ := imageio.PSNR(a, b)
	fmt.Printf("%.2f dB\n", p)
	// Output: 38.92 dB
}

func TestPSNR(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 4, 4))
	b := image.NewGray(image.Rect(10, 10, 14, 14)) // same size, other origin
	if p, err := imageio.PSNR(a, b); err != nil || !math.IsInf(p, 1) {
		t.Fatalf("identical: got %v, %v; want +Inf", p, err)
	}
	for i := range b.Pix {
		b.Pix[i] = 255
	}
	if p, err := imageio.PSNR(a, b); err != nil || p != 0 {
		t.Fatalf("black against white: got %v, %v; want 0 dB", p, err)
	}
	if _, err := imageio.PSNR(a, image.NewGray(image.Rect(0, 0, 4, 5))); !errors.Is(err, imageio.ErrShape) {
		t.Fatalf("sizes differ: got %v, want ErrShape", err)
	}
}
