package shapes

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Region is one shape found in a picture, measured as [CheckScene]
// measures the shapes it matches: its dominant palette color, the
// best-fitting class, size class and grid cell; the centroid X, Y and the
// fitted Radius as fractions of the image side; Area, the soft area as a
// share of the image; Fit, the soft intersection over union with the class
// template (1 is perfect).
type Region struct {
	Color              Color
	Kind               Kind
	Size               Size
	Position           Position
	X, Y, Radius, Area float64
	Fit                float64
}

// Found is everything [FindShapes] sees in a picture.
type Found struct {
	Width, Height int
	Background    Color       // the palette color nearest the border's median
	BackgroundRGB color.NRGBA // the border's per-channel median
	// Foreground marks, row by row, the pixels far from the background
	// in CIELAB (the threshold the checker segments with); everything else
	// is background.
	Foreground []bool
	Regions    []Region // largest first
}

// FindShapes finds and measures the shapes of a picture without a prompt
// to check against: the per-frame step of a video checker, which tracks
// the regions across frames itself. The picture's sides must be in
// [MinSize, MaxSize].
func FindShapes(img image.Image) (Found, error) {
	if img == nil {
		return Found{}, fmt.Errorf("shapes: find: nil image")
	}
	b := img.Bounds()
	if err := checkSize(b.Dx()); err != nil {
		return Found{}, fmt.Errorf("shapes: find: width: %w", err)
	}
	if err := checkSize(b.Dy()); err != nil {
		return Found{}, fmt.Errorf("shapes: find: height: %w", err)
	}
	p := newPicture(img)
	f := Found{Width: p.w, Height: p.h, Background: p.bgColor, Foreground: make([]bool, p.w*p.h)}
	f.BackgroundRGB = color.NRGBA{uint8(math.Round(p.bgRGB[0])), uint8(math.Round(p.bgRGB[1])), uint8(math.Round(p.bgRGB[2])), 255}
	for i, d := range p.dist {
		f.Foreground[i] = d > p.fgDist
	}
	for _, r := range p.regions() {
		f.Regions = append(f.Regions, Region{Color: r.color, Kind: r.kind, Size: r.size, Position: r.pos,
			X: r.x, Y: r.y, Radius: r.radius, Area: r.area, Fit: r.fit})
	}
	return f, nil
}
