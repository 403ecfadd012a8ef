package main

import (
	"fmt"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// The likelihood's data space: a pixel value v in 0..255 stands for the
// bin [v/128 − 1, (v+1)/128 − 1) of width 2/256 in [-1, 1], and the
// model's density is over points of those bins (dequantization, Theis et
// al. 2016, "A note on the evaluation of generative models"). Then
// −log₂ P(v) ≤ −log₂ p(x)/D + 7 for x drawn uniformly in v's bins, where
// 7 = −log₂(2/256) is the bin width's share per dimension.
const binWidth = 2.0 / 256

// dequantize writes an NRGBA picture as [3,S,S] floats: each value at
// the low edge of its bin plus u·binWidth, u from noise (uniform in
// [0, 1)), or the bin's centre when noise is nil.
func dequantize(pix []uint8, stride int, noise func() float64, dst []float32) {
	const s = imageSize
	for y := range s {
		for x := range s {
			for c := range 3 {
				u := 0.5
				if noise != nil {
					u = noise()
				}
				dst[(c*s+y)*s+x] = float32((float64(pix[y*stride+4*x+c])+u)*binWidth - 1)
			}
		}
	}
}

// pictures is the training set: shapes training pictures dequantized with
// noise from the trainer's RNG, the condition of their caption (of "" for
// a share emptyRate of the examples, so that the model also draws
// without a prompt), the reparameterization noise and β of the KL
// warm-up.
type pictures struct {
	n         int
	emptyRate float64
	warmup    int
	// step is the number of steps taken, which the training loop updates
	// after each one (and after a resume): β = min(1, step/warmup).
	step  *int
	empty []float32
}

func newPictures(n int, emptyRate float64, warmup int, step *int) (*pictures, error) {
	empty, err := shapes.Condition("")
	if err != nil {
		return nil, err
	}
	return &pictures{n: n, emptyRate: emptyRate, warmup: warmup, step: step, empty: empty}, nil
}

func (d *pictures) Len() int { return d.n }

// klWeight is β after step steps of a linear warm-up over warmup steps.
func klWeight(step, warmup int) float32 {
	if warmup <= 0 || step >= warmup {
		return 1
	}
	return float32(step) / float32(warmup)
}

func (d *pictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 4 || len(dst[0].F32) != pixels || len(dst[1].F32) != shapes.ConditionSize || len(dst[3].F32) != 1 {
		return fmt.Errorf("pictures: unexpected batch layout")
	}
	s, err := shapes.Dataset{Split: shapes.Train, Size: imageSize}.Sample(i)
	if err != nil {
		return err
	}
	dequantize(s.Image.Pix, s.Image.Stride, rng.Float64, dst[0].F32)
	if rng.Float64() < d.emptyRate {
		copy(dst[1].F32, d.empty)
	} else {
		c, err := shapes.Condition(s.Caption)
		if err != nil {
			return fmt.Errorf("caption %q: %w", s.Caption, err)
		}
		copy(dst[1].F32, c)
	}
	for k := range dst[2].F32 {
		dst[2].F32[k] = float32(rng.NormFloat64())
	}
	dst[3].F32[0] = klWeight(*d.step, d.warmup)
	return nil
}
