package main

import (
	"fmt"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// pixelValue is the network's input for the 8-bit value v: v/127.5 − 1,
// in [-1, 1] (the sampler feeds back the values it draws the same way).
func pixelValue(v uint8) float32 { return float32(v)/127.5 - 1 }

// planes writes an NRGBA picture as [3,S,S] input values and labels.
func planes(pix []uint8, stride int, x []float32, labels []int64) {
	const s = imageSize
	for y := range s {
		for i := range s {
			for c := range 3 {
				v := pix[y*stride+4*i+c]
				k := (c*s+y)*s + i
				if x != nil {
					x[k] = pixelValue(v)
				}
				if labels != nil {
					labels[k] = int64(v)
				}
			}
		}
	}
}

// pictures is the training set: shapes training pictures with the
// condition of their caption (of "" for a share emptyRate of the
// examples, so that the model also draws without a prompt).
//
// With edgeWeight > 0 each example also has loss weights: 1 + edgeWeight
// for the subpixels of a pixel that differs (in any channel) from the
// pixel to its left or the one above it, 1 elsewhere.
type pictures struct {
	n          int
	emptyRate  float64
	edgeWeight float64
	empty      []float32
}

func newPictures(n int, emptyRate, edgeWeight float64) (*pictures, error) {
	empty, err := shapes.Condition("")
	if err != nil {
		return nil, err
	}
	return &pictures{n: n, emptyRate: emptyRate, edgeWeight: edgeWeight, empty: empty}, nil
}

// edgeWeights writes the loss weights of a picture [3,S,S].
func edgeWeights(pix []uint8, stride int, edge float64, dst []float32) {
	const s = imageSize
	differs := func(y, x, y2, x2 int) bool {
		for c := range 3 {
			if pix[y*stride+4*x+c] != pix[y2*stride+4*x2+c] {
				return true
			}
		}
		return false
	}
	for y := range s {
		for x := range s {
			w := float32(1)
			if (x > 0 && differs(y, x, y, x-1)) || (y > 0 && differs(y, x, y-1, x)) {
				w = float32(1 + edge)
			}
			for c := range 3 {
				dst[(c*s+y)*s+x] = w
			}
		}
	}
}

func (d *pictures) Len() int { return d.n }

func (d *pictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	inputs := 3
	if d.edgeWeight > 0 {
		inputs = 4
	}
	if len(dst) != inputs || len(dst[0].F32) != subpixels || len(dst[1].I64) != subpixels || len(dst[2].F32) != shapes.ConditionSize ||
		(inputs == 4 && len(dst[3].F32) != subpixels) {
		return fmt.Errorf("pictures: unexpected batch layout")
	}
	s, err := shapes.Dataset{Split: shapes.Train, Size: imageSize}.Sample(i)
	if err != nil {
		return err
	}
	planes(s.Image.Pix, s.Image.Stride, dst[0].F32, dst[1].I64)
	if d.edgeWeight > 0 {
		edgeWeights(s.Image.Pix, s.Image.Stride, d.edgeWeight, dst[3].F32)
	}
	if rng.Float64() < d.emptyRate {
		copy(dst[2].F32, d.empty)
		return nil
	}
	c, err := shapes.Condition(s.Caption)
	if err != nil {
		return fmt.Errorf("caption %q: %w", s.Caption, err)
	}
	copy(dst[2].F32, c)
	return nil
}
