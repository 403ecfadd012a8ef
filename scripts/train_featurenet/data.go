package main

import (
	"fmt"
	"image"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// pictures is the training (or evaluation) data: shapes pictures as CHW
// floats in [-1, 1] with their attribute labels, drawn on the fly.
type pictures struct {
	data shapes.Dataset
	n    int
}

func (d pictures) Len() int { return d.n }

func (d pictures) Example(i int, _ *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 1+len(shapes.AttributeClasses) {
		return fmt.Errorf("pictures: unexpected batch layout")
	}
	s, err := d.data.Sample(i)
	if err != nil {
		return err
	}
	imageToCHW(s.Image, dst[0].F32)
	for k, c := range pictureLabels(s) {
		dst[1+k].I64[0] = int64(c)
	}
	return nil
}

// imageToCHW writes a picture as [3,H,W] floats in [-1, 1].
func imageToCHW(img *image.NRGBA, dst []float32) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := range h {
		for x := range w {
			p := img.Pix[y*img.Stride+4*x:]
			for c := range 3 {
				dst[(c*h+y)*w+x] = float32(p[c])/127.5 - 1
			}
		}
	}
}

// pictureLabels returns the classes of the drawn scene's attributes
// (shapes.Scene.Attributes) with the two shapes in an order the picture
// shows: the scene lists them in the caption's order, which a picture
// cannot tell ("a red circle above a blue square" and "a blue square below
// a red circle" are one picture), so labels in that order would ask the
// heads to guess. Here the first shape is the upper one of a vertical
// relation, the left one of a horizontal relation, and otherwise the one
// whose grid cell comes first in reading order; the relation is restated
// to match (Below becomes Above, RightOf LeftOf).
func pictureLabels(s shapes.Sample) []int {
	sc := s.Scene
	if len(sc.Shapes) == 2 && secondFirst(s) {
		sc.Shapes = []shapes.Shape{sc.Shapes[1], sc.Shapes[0]}
		switch sc.Relation {
		case shapes.Below:
			sc.Relation = shapes.Above
		case shapes.RightOf:
			sc.Relation = shapes.LeftOf
		}
	}
	return sc.Attributes()
}

// secondFirst reports whether the second shape of a two-shape sample comes
// first in pictureLabels' order.
func secondFirst(s shapes.Sample) bool {
	a, b := s.Placements[0], s.Placements[1]
	switch s.Scene.Relation {
	case shapes.Above, shapes.Below:
		return b.Y < a.Y
	case shapes.LeftOf, shapes.RightOf:
		return b.X < a.X
	}
	side := float64(s.Image.Rect.Dx())
	cell := func(p shapes.Placement) int { return 3*int(3*p.Y/side) + int(3*p.X/side) }
	return cell(b) < cell(a)
}
