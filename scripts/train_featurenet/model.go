package main

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

const (
	// imageSize is the side of the pictures the network reads.
	imageSize = 32
	// featureDim is the width of the last convolution, whose spatial
	// average is the feature vector.
	featureDim = 128
)

// convWidths are the output channels of the network's five 3x3
// convolutions; the second and the fourth halve the side (32 → 16 → 8).
var convWidths = [5]int64{32, 64, 64, 96, featureDim}

// features builds the feature network on sample [N,3,32,32] and returns
// its features [N,featureDim]: five 3x3 convolutions, each followed by
// GroupNorm(8) and SiLU, averaged over the 8x8 positions. A learned bias
// per channel and pixel after the first convolution tells the later layers
// where they are, which the average alone would forget (the grid cells of
// the shapes are attributes the heads must read).
func features(l *onnxexport.Layers, sample *onnxexport.Value) *onnxexport.Value {
	h := l.Conv2d("conv_in", sample, convWidths[0], 3, onnxexport.Conv2dOptions{Padding: 1})
	pos := l.Param("position_bias", onnxexport.NewFloat32([]int64{convWidths[0], imageSize, imageSize}, make([]float32, convWidths[0]*imageSize*imageSize)))
	h = l.SiLU(l.GroupNorm("norm_in", l.Add(h, pos), 8, 1e-5))
	for i, w := range convWidths[1:] {
		stride := int64(1)
		if i%2 == 0 {
			stride = 2
		}
		h = l.Conv2d(fmt.Sprintf("convs.%d", i), h, w, 3, onnxexport.Conv2dOptions{Padding: 1, Stride: stride})
		h = l.SiLU(l.GroupNorm(fmt.Sprintf("norms.%d", i), h, 8, 1e-5))
	}
	return l.ReduceMean(h, false, 2, 3)
}

// heads returns one linear classifier's logits per scene attribute
// (shapes.AttributeClasses) over the features.
func heads(l *onnxexport.Layers, feat *onnxexport.Value) []*onnxexport.Value {
	out := make([]*onnxexport.Value, len(shapes.AttributeClasses))
	for k, n := range shapes.AttributeClasses {
		out[k] = l.Linear(fmt.Sprintf("heads.%d", k), feat, int64(n), true)
	}
	return out
}

// trainLoss builds the training loss: inputs sample [B,3,32,32] and one
// label [B] per attribute; loss the mean of the heads' cross-entropies.
func trainLoss(seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("featurenet_train")
	l := onnxexport.NewLayers(b, seed)
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	var labels []*onnxexport.Value
	for k := range shapes.AttributeClasses {
		labels = append(labels, b.Input(fmt.Sprintf("label_%d", k), onnxexport.Int64, onnxexport.D(batch)))
	}
	var loss *onnxexport.Value
	for k, logits := range heads(l, features(l, x)) {
		ce := b.CrossEntropyLoss(logits, labels[k])
		if loss == nil {
			loss = ce
		} else {
			loss = b.Add(loss, ce)
		}
	}
	return b, b.Mul(loss, b.ScalarLike(loss, 1/float64(len(shapes.AttributeClasses))))
}

// inferenceGraph builds the exported network with weights w: input sample
// [batch,3,32,32] in [-1, 1], output features [batch,featureDim], and,
// withHeads, the heads' logits logits_K [batch,classes] (the script's
// accuracy check; the embedded model has none).
func inferenceGraph(w map[string]*onnxexport.Tensor, withHeads bool) (*onnxexport.Builder, error) {
	b := onnxexport.NewBuilder("featurenet")
	l := onnxexport.NewLayers(b, 0)
	x := b.Input("sample", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	feat := features(l, x)
	b.OutputAs("features", feat, onnxexport.Sym("batch"), onnxexport.D(featureDim))
	if withHeads {
		for k, logits := range heads(l, feat) {
			b.OutputAs(fmt.Sprintf("logits_%d", k), logits, onnxexport.Sym("batch"), onnxexport.D(int64(shapes.AttributeClasses[k])))
		}
	}
	if err := b.LoadParams(w); err != nil {
		return nil, err
	}
	return b, b.Err()
}
