package detect

import (
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/imagegen/imagegen/shapes"
)

// boxBlur returns img averaged over 2x2 neighborhoods: the kind of
// softness a decoder leaves.
func boxBlur(img *image.NRGBA) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			var s [3]int
			for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				c := img.NRGBAAt(min(x+d[0], b.Dx()-1), min(y+d[1], b.Dy()-1))
				s[0], s[1], s[2] = s[0]+int(c.R), s[1]+int(c.G), s[2]+int(c.B)
			}
			out.SetNRGBA(x, y, color.NRGBA{uint8(s[0] / 4), uint8(s[1] / 4), uint8(s[2] / 4), 255})
		}
	}
	return out
}

func TestFeaturesSeeBlur(t *testing.T) {
	sharper := 0
	const n = 20
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Features(s.Image)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != NumFeatures {
			t.Fatalf("got %d features, want %d", len(f), NumFeatures)
		}
		g, err := Features(boxBlur(s.Image))
		if err != nil {
			t.Fatal(err)
		}
		// The outermost spectrum ring and the highest DCT diagonal lose
		// energy under blur.
		if f[SpectrumBins-1] > g[SpectrumBins-1] && f[SpectrumBins+dctDiagonals-1] > g[SpectrumBins+dctDiagonals-1] {
			sharper++
		}
	}
	if sharper < n-1 {
		t.Errorf("the sharp render had more high-frequency energy than its blur in %d of %d pictures", sharper, n)
	}
}

func TestFeaturesSizes(t *testing.T) {
	for _, size := range []image.Point{{8, 8}, {33, 17}, {300, 20}} {
		f, err := Features(image.NewGray(image.Rectangle{Max: size}))
		if err != nil || len(f) != NumFeatures {
			t.Errorf("%v: got %d features, %v", size, len(f), err)
		}
	}
	if _, err := Features(image.NewGray(image.Rect(0, 0, 7, 40))); !errors.Is(err, ErrTooSmall) {
		t.Errorf("7x40: got %v, want ErrTooSmall", err)
	}
}

func BenchmarkFeatures32(b *testing.B) {
	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Features(s.Image); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFeatures256(b *testing.B) {
	img := image.NewGray(image.Rect(0, 0, 256, 256))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	for b.Loop() {
		if _, err := Features(img); err != nil {
			b.Fatal(err)
		}
	}
}
