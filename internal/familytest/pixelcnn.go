package familytest

import (
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// PixelCNNWindow is the vstack window of WritePixelCNN's checkpoint.
const PixelCNNWindow = 4

// WritePixelCNN writes a tiny ImagegenPixelCNNPipeline folder to dir. Its
// three graphs compute one causal model, so that the naive and the cached
// samplers must agree: the logits of subpixel (y, x, ch) are
//
//	A[ch, k]·(s(c) + up + left + before) + B[k]
//
// with up the same channel one row up, left the same channel one pixel
// left, before the previous channel of the same pixel (0 for red) and s(c)
// a linear function of the condition. vstack's links carry s(c) + up, and
// hrow adds the rest, in the same order as the full graph.
func WritePixelCNN(dir string, seed uint64) error {
	const s = SampleSize
	w := newPixelCNNWeights(seed)
	batch := onnxexport.Sym("batch")

	full := onnxexport.NewBuilder("pixelcnn_full")
	x := full.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(s), onnxexport.D(s))
	c := full.Input("condition", onnxexport.Float32, batch, onnxexport.D(conditionLen))
	sum := full.Add(full.Add(full.Add(shiftDown(full, x), w.cond(full, c)), shiftRight(full, x)), previousChannel(full, x))
	full.Output("logits", w.logits(full, sum))

	vs := onnxexport.NewBuilder("pixelcnn_vstack")
	xw := vs.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(PixelCNNWindow), onnxexport.D(s))
	cv := vs.Input("condition", onnxexport.Float32, batch, onnxexport.D(conditionLen))
	start := vs.Input("row_start", onnxexport.Int64, onnxexport.D(1))
	// row_start does not change this model's links; the product with 0
	// keeps the input in the graph, as the contract declares it.
	zero := vs.Mul(vs.Cast(start, onnxexport.Float32), vs.ConstFloat32([]int64{1}, []float32{0}))
	vs.Output("links", vs.Add(vs.Add(shiftDown(vs, xw), w.cond(vs, cv)), zero))

	hr := onnxexport.NewBuilder("pixelcnn_hrow")
	row := hr.Input("row", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(1), onnxexport.D(s))
	links := hr.Input("links", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(1), onnxexport.D(s))
	hr.Output("logits", w.logits(hr, hr.Add(hr.Add(links, shiftRight(hr, row)), previousChannel(hr, row))))

	cfg := map[string]any{"sample_size": s, "condition_size": conditionLen, "levels": 256, "window": PixelCNNWindow, "link_channels": 3}
	idx := map[string]any{"_class_name": "ImagegenPixelCNNPipeline", "_imagegen_family": "pixelcnn", "conditioning": "shapes-attributes",
		"full": []string{"imagegen", "PixelCNN"}, "vstack": []string{"imagegen", "PixelCNNVStack"}, "hrow": []string{"imagegen", "PixelCNNHRow"},
		"imagegen_defaults": map[string]any{"height": s, "width": s}}
	return write(dir, idx, map[string]*onnxexport.Builder{"full": full, "vstack": vs, "hrow": hr}, cfg)
}

// pixelCNNWeights are the tiny model's constants, shared by its graphs.
type pixelCNNWeights struct{ a, b, c []float32 }

func newPixelCNNWeights(seed uint64) pixelCNNWeights {
	rng := rand.New(rand.NewPCG(seed, 11))
	draw := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		return v
	}
	return pixelCNNWeights{a: draw(3*256, 3), b: draw(256, 1), c: draw(conditionLen, 0.5)}
}

// cond is s(c) as [B,1,1,1].
func (w pixelCNNWeights) cond(b *onnxexport.Builder, c *onnxexport.Value) *onnxexport.Value {
	return b.Reshape(b.MatMul(c, b.ConstFloat32([]int64{conditionLen, 1}, w.c)), -1, 1, 1, 1)
}

// logits maps the sum [B,3,H,W] to [B,3,256,H,W].
func (w pixelCNNWeights) logits(b *onnxexport.Builder, sum *onnxexport.Value) *onnxexport.Value {
	a := b.ConstFloat32([]int64{1, 3, 256, 1, 1}, w.a)
	return b.Add(b.Mul(b.Unsqueeze(sum, 2), a), b.ConstFloat32([]int64{1, 1, 256, 1, 1}, w.b))
}

// shiftDown moves each channel one row down (row 0 becomes 0).
func shiftDown(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	k := b.ConstFloat32([]int64{3, 1, 2, 1}, []float32{1, 0, 1, 0, 1, 0})
	return b.Conv(x, k, nil, onnxexport.ConvOptions{Pads: []int64{1, 0, 0, 0}, Group: 3})
}

// shiftRight moves each channel one pixel right (column 0 becomes 0).
func shiftRight(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	k := b.ConstFloat32([]int64{3, 1, 1, 2}, []float32{1, 0, 1, 0, 1, 0})
	return b.Conv(x, k, nil, onnxexport.ConvOptions{Pads: []int64{0, 1, 0, 0}, Group: 3})
}

// previousChannel gives each channel the one before it (red gets 0).
func previousChannel(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	k := b.ConstFloat32([]int64{3, 3, 1, 1}, []float32{0, 0, 0, 1, 0, 0, 0, 1, 0})
	return b.Conv(x, k, nil, onnxexport.ConvOptions{})
}

// PixelCNNLogit is a host reference of WritePixelCNN's model with seed:
// logit(x, c, ch, k, y, i) is the logit of level k for subpixel (y, i,
// ch) given the picture x (CHW, values v/127.5 − 1) and the condition c.
func PixelCNNLogit(seed uint64) func(x, c []float32, ch, k, y, i int) float32 {
	w := newPixelCNNWeights(seed)
	const s = SampleSize
	return func(x, c []float32, ch, k, y, i int) float32 {
		var cond float32
		for j, v := range c {
			cond += v * w.c[j]
		}
		var up, left, before float32
		if y > 0 {
			up = x[(ch*s+y-1)*s+i]
		}
		if i > 0 {
			left = x[(ch*s+y)*s+i-1]
		}
		if ch > 0 {
			before = x[((ch-1)*s+y)*s+i]
		}
		return w.a[ch*256+k]*(up+cond+left+before) + w.b[k]
	}
}
