package main

import (
	"fmt"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// examples is one of the two training sets, both over the first n
// training pictures: the discriminator's (picture, condition, noise) and
// the generator's (condition, noise). The condition is the caption's, or
// for a share emptyRate of the examples the empty prompt's, so that the
// model also draws without a prompt.
type examples struct {
	n          int
	emptyRate  float64
	latent     int
	withImages bool
	// withLabels adds, after the picture, its scene's full attributes
	// one-hot (the auxiliary classifier's targets).
	withLabels bool
	empty      []float32
}

func newExamples(n int, emptyRate float64, latent int64, withImages, withLabels bool) (*examples, error) {
	empty, err := shapes.Condition("")
	if err != nil {
		return nil, err
	}
	return &examples{n: n, emptyRate: emptyRate, latent: int(latent), withImages: withImages, withLabels: withLabels && withImages, empty: empty}, nil
}

func (d *examples) Len() int { return d.n }

func (d *examples) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	want := 2
	if d.withImages {
		want++
	}
	if d.withLabels {
		want++
	}
	if len(dst) != want {
		return fmt.Errorf("examples: %d batch inputs, want %d", len(dst), want)
	}
	caption := shapes.Caption(uint64(i))
	if d.withImages {
		s, err := shapes.Dataset{Split: shapes.Train, Size: imageSize}.Sample(i)
		if err != nil {
			return err
		}
		toCHW(s.Image.Pix, s.Image.Stride, dst[0].F32)
		caption = s.Caption
		dst = dst[1:]
		if d.withLabels {
			oneHot(s.Scene.Attributes(), dst[0].F32)
			dst = dst[1:]
		}
	}
	if len(dst[0].F32) != shapes.ConditionSize || len(dst[1].F32) != d.latent {
		return fmt.Errorf("examples: unexpected batch layout")
	}
	if rng.Float64() < d.emptyRate {
		copy(dst[0].F32, d.empty)
	} else {
		c, err := shapes.Condition(caption)
		if err != nil {
			return fmt.Errorf("caption %q: %w", caption, err)
		}
		copy(dst[0].F32, c)
	}
	for k := range dst[1].F32 {
		dst[1].F32[k] = float32(rng.NormFloat64())
	}
	return nil
}

// oneHot writes attribute classes (shapes.Scene.Attributes) one-hot per
// block, as shapes.Condition lays out a prompt's.
func oneHot(attrs []int, dst []float32) {
	clear(dst)
	off := 0
	for k, c := range attrs {
		dst[off+c] = 1
		off += shapes.AttributeClasses[k]
	}
}

// toCHW writes an NRGBA picture as [3,S,S] floats in [-1, 1] (v/127.5 − 1).
func toCHW(pix []uint8, stride int, dst []float32) {
	const s = imageSize
	for y := range s {
		for x := range s {
			for c := range 3 {
				dst[(c*s+y)*s+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
			}
		}
	}
}
