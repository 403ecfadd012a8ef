package shapes

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
)

// Placement is where and how big the renderer draws one shape, in pixels:
// the area centroid (X, Y), origin at the top-left corner of the image, and
// the radius R, half the larger side of the shape's bounding box (before
// the square's visual shrink).
type Placement struct {
	X, Y, R float64
}

// ErrSize is returned (wrapped) for image sizes outside [MinSize, MaxSize].
var ErrSize = errors.New("shapes: image size out of range")

// MinSize and MaxSize bound the side of the square images this package
// draws and checks.
const (
	MinSize = 16
	MaxSize = 1024
)

func checkSize(size int) error {
	if size < MinSize || size > MaxSize {
		return fmt.Errorf("%w: %d (want %d..%d)", ErrSize, size, MinSize, MaxSize)
	}
	return nil
}

// Render draws scene at size x size pixels with the shapes at placements
// (one per shape, in order): the background color, then each shape
// anti-aliased over it (coverage blended in sRGB, as most 2D renderers
// do). The scene must name its background.
func Render(scene Scene, placements []Placement, size int) (*image.NRGBA, error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	if err := scene.Validate(); err != nil {
		return nil, err
	}
	if scene.Background == NoColor {
		return nil, fmt.Errorf("%w: render needs a background color", ErrInvalidScene)
	}
	if len(placements) != len(scene.Shapes) {
		return nil, fmt.Errorf("%w: %d placements for %d shapes", ErrInvalidScene, len(placements), len(scene.Shapes))
	}
	for i, p := range placements {
		if !(p.R > 0) || math.IsInf(p.R, 0) || math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("%w: placement %d is %+v", ErrInvalidScene, i, p)
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := scene.Background.RGB()
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	for i, sh := range scene.Shapes {
		drawShape(img, sh.Kind, sh.Color.RGB(), placements[i])
	}
	return img, nil
}

// drawShape paints one shape of class k in color fg at p over img,
// anti-aliased (coverage blended in sRGB).
func drawShape(img *image.NRGBA, k Kind, fg color.NRGBA, p Placement) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	rasterize(k, p.X, p.Y, p.R, w, h, func(x, y int, a float64) {
		o := img.PixOffset(x, y)
		px := img.Pix[o : o+3 : o+3]
		px[0] = blend8(px[0], fg.R, a)
		px[1] = blend8(px[1], fg.G, a)
		px[2] = blend8(px[2], fg.B, a)
	})
}

func blend8(under, over uint8, a float64) uint8 {
	return uint8(math.Round(float64(under)*(1-a) + float64(over)*a))
}
