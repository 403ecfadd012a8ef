package main

import (
	"fmt"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// imageSize is the side of the pictures.
const imageSize = 32

// The likelihood's data space, the same as builtin:vae's: a pixel value
// v in 0..255 stands for the bin [v/128 − 1, (v+1)/128 − 1) of width
// 2/256 in [-1, 1], and the flow's density is over points of those bins
// (uniform dequantization). Then −log₂ P(v)/D ≤ −log₂ p(x)/D + 7 in
// expectation, 7 = −log₂(2/256) being the bin width's share per value.
const binWidth = 2.0 / 256

// dequantize writes an NRGBA picture as [3,S,S] floats: each value at
// the low edge of its bin plus u·binWidth, u from noise (uniform in
// [0, 1)).
func dequantize(pix []uint8, stride int, noise func() float64, dst []float32) {
	const s = imageSize
	for y := range s {
		for x := range s {
			for c := range 3 {
				dst[(c*s+y)*s+x] = float32((float64(pix[y*stride+4*x+c])+noise())*binWidth - 1)
			}
		}
	}
}

// pictures is the training set: shapes training pictures dequantized
// with noise from the trainer's RNG, with the condition of their caption
// (of "" for a share emptyRate of the examples, so that the model also
// draws without a prompt).
type pictures struct {
	split     shapes.Split
	n         int
	emptyRate float64
	empty     []float32
}

func newPictures(split shapes.Split, n int, emptyRate float64) (*pictures, error) {
	empty, err := shapes.Condition("")
	if err != nil {
		return nil, err
	}
	return &pictures{split: split, n: n, emptyRate: emptyRate, empty: empty}, nil
}

func (d *pictures) Len() int { return d.n }

func (d *pictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 2 || len(dst[0].F32) != 3*imageSize*imageSize || len(dst[1].F32) != shapes.ConditionSize {
		return fmt.Errorf("pictures: unexpected batch layout")
	}
	s, err := shapes.Dataset{Split: d.split, Size: imageSize}.Sample(i)
	if err != nil {
		return err
	}
	dequantize(s.Image.Pix, s.Image.Stride, rng.Float64, dst[0].F32)
	if d.emptyRate > 0 && rng.Float64() < d.emptyRate {
		copy(dst[1].F32, d.empty)
		return nil
	}
	c, err := shapes.Condition(s.Caption)
	if err != nil {
		return fmt.Errorf("caption %q: %w", s.Caption, err)
	}
	copy(dst[1].F32, c)
	return nil
}
