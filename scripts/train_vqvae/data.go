package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/lossweight"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// pictures is the training set: the first n shapes training pictures as
// CHW floats in [-1, 1] (the pipeline's conversion, imageio.ImageTensor),
// each with its L1 weights: 1 plus outline on the pixels next to a color
// change (lossweight.Outline; 0 weighs all pixels alike).
type pictures struct {
	n       int
	outline float32
}

func (d pictures) Len() int { return d.n }

func (d pictures) Example(i int, _ *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 2 || len(dst[0].F32) != 3*imageSize*imageSize || len(dst[1].F32) != imageSize*imageSize {
		return fmt.Errorf("pictures: unexpected batch layout")
	}
	s, err := shapes.Dataset{Split: shapes.Train, Size: imageSize}.Sample(i)
	if err != nil {
		return err
	}
	px, err := imageio.ImageTensor(s.Image, imageSize, imageSize)
	if err != nil {
		return err
	}
	copy(dst[0].F32, px)
	lossweight.Outline(s.Image.Pix, s.Image.Stride, imageSize, d.outline, dst[1].F32)
	return nil
}
