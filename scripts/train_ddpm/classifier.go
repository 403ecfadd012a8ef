package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// labelSize is the length of the classifier's label vector and logits:
// shapes.ShapeLabels' heads (shape class, color and grid cell of the
// first and the second shape).
const labelSize = shapes.ShapeLabelSize

// classifierNet is ADM's noise-conditional classifier, small: a stride-2
// convolution to 16x16, then three levels of a ResnetBlock2D (32/64/128
// channels at 16/8/4 pixels, the timestep embedding added in every
// block) with stride-2 convolutions between them, and a linear map of the
// flattened 4x4 features (the grid cell needs where, not only what) to the
// heads' logits [B, labelSize]. Tried beside it: featurenet's layout
// (five convolutions from full resolution, averaged, with timestep
// shifts) learned more slowly (mean loss 7.41 after 1,200 steps against
// 6.89; grid cell 13% right after 600).
func classifierNet(l *onnxexport.Layers, x, t *onnxexport.Value) *onnxexport.Value {
	b := l.Builder
	temb := l.TimestepEmbedding("time_embedding", l.TimestepProjection(l.Expand(t, l.DimOf(x, 0)), 32, true, 0), 128)
	h := l.Conv2d("conv_in", x, 32, 3, onnxexport.Conv2dOptions{Stride: 2, Padding: 1})
	for i, ch := range []int64{32, 64, 128} {
		h = l.ResnetBlock2D(fmt.Sprintf("blocks.%d", i), h, temb, onnxexport.ResnetOptions{Out: ch, Groups: 16, Eps: 1e-5})
		if i < 2 {
			h = l.Conv2d(fmt.Sprintf("down.%d", i), h, ch, 3, onnxexport.Conv2dOptions{Stride: 2, Padding: 1})
		}
	}
	h = l.SiLU(l.GroupNorm("norm_out", h, 16, 1e-5))
	return l.Linear("head", b.Reshape(h, -1, 128*4*4), labelSize, true)
}

// logProb returns Σ_heads Σ_k y_k log softmax_k(logits of the head) per
// example [B]: the log-likelihood of the labels y each head is given.
func logProb(b *onnxexport.Builder, logits, labels *onnxexport.Value) *onnxexport.Value {
	sizes := make([]int64, len(shapes.ShapeLabelHeads))
	for i, h := range shapes.ShapeLabelHeads {
		sizes[i] = int64(h.Classes)
	}
	parts := b.Split(logits, 1, sizes...)
	logps := make([]*onnxexport.Value, len(parts))
	for i, p := range parts {
		logps[i] = b.Op("LogSoftmax", []*onnxexport.Value{p}, []onnxexport.Attr{onnxexport.IntAttr("axis", 1)},
			onnxexport.ValueType{DType: p.DType(), Shape: p.Shape()})[0]
	}
	return b.ReduceSum(b.Mul(b.Concat(1, logps...), labels), false, 1)
}

// classifierLoss builds the training loss: inputs sample [B,3,32,32]
// (x_t), timestep [B] and labels [B,labelSize]; loss the mean over the
// batch of −Σ log p(y | x_t).
func classifierLoss(seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("classifier")
	l := onnxexport.NewLayers(b, seed)
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	y := b.Input("labels", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(labelSize))
	return b, b.Neg(b.ReduceMean(logProb(b, classifierNet(l, x, t), y), false))
}

// newClassifierGradGraph is the exported guidance graph: inputs sample
// [batch_size,3,32,32] (x_t as the scheduler holds it), timestep (a
// float32 scalar) and labels [batch_size,labelSize] → grad, ∇_{x_t} Σ log
// p(y | x_t) [batch_size,3,32,32], log_prob [batch_size] and the heads'
// logits [batch_size,labelSize]. The gradient comes from the same
// autodiff that trains the networks.
func newClassifierGradGraph(w map[string]*onnxexport.Tensor) (*onnxexport.Builder, error) {
	b := onnxexport.NewBuilder("classifier")
	l := onnxexport.NewLayers(b, 0)
	x := b.Input("sample", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	t := b.Input("timestep", onnxexport.Float32)
	y := b.Input("labels", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.D(labelSize))
	logits := classifierNet(l, x, t)
	lp := logProb(b, logits, y)
	if err := b.LoadParams(w); err != nil {
		return nil, err
	}
	g, err := b.Gradients(b.ReduceSum(lp, false), []*onnxexport.Value{x})
	if err != nil {
		return nil, err
	}
	b.OutputAs("grad", g[0], onnxexport.Sym("batch_size"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	b.OutputAs("log_prob", lp, onnxexport.Sym("batch_size"))
	b.OutputAs("logits", logits, onnxexport.Sym("batch_size"), onnxexport.D(labelSize))
	return b, nil
}

// noisedScenes is the classifier's dataset: training pictures noised at a
// uniform timestep, labelled with their drawn scene's shapes.
type noisedScenes struct {
	pics shapes.Dataset
	n    int
	ac   []float64
	x0   []float32
}

func (d *noisedScenes) Len() int { return d.n }

func (d *noisedScenes) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 3 || len(dst[0].F32) != 3*imageSize*imageSize || len(dst[2].F32) != labelSize {
		return fmt.Errorf("noised scenes: unexpected batch layout")
	}
	s, err := d.pics.Sample(i)
	if err != nil {
		return err
	}
	if d.x0 == nil {
		d.x0 = make([]float32, 3*imageSize*imageSize)
	}
	imageToCHW(s.Image.Pix, s.Image.Stride, d.x0)
	// Timesteps lean toward the less noisy half (t = 1000·u^1.5: 63%
	// below 500), where a picture still says what it shows; past t ≈ 700
	// even a perfect classifier has little to read.
	t := min(int(float64(len(d.ac))*math.Pow(rng.Float64(), 1.5)), len(d.ac)-1)
	noiseAt(rng, d.ac, t, d.x0, dst[0].F32, make([]float32, len(d.x0)))
	dst[1].F32[0] = float32(t)
	copy(dst[2].F32, shapes.ShapeLabels(s.Scene))
	return nil
}

// phaseClassifier trains the classifier under the checkpoint name
// o.clsName and returns its EMA weights.
func phaseClassifier(ctx context.Context, o options) (map[string]*onnxexport.Tensor, error) {
	b, loss := classifierLoss(o.seed, o.clsBatch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.995})
	if err != nil {
		return nil, err
	}
	data := &noisedScenes{pics: shapes.Dataset{Split: shapes.Train, Size: imageSize}, n: o.pictures, ac: alphasCumprod()}
	return trainrun.Phase(ctx, trainOptions(o), o.clsName, g, data, o.clsSteps, o.clsLR, true)
}
