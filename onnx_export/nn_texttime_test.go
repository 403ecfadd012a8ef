package onnxexport_test

import (
	"math"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// layerNormRef normalizes each row of x [n,d] (weight 1, bias 0).
func layerNormRef(x []float32, n, d int) []float32 {
	out := make([]float32, len(x))
	for r := range n {
		row := x[r*d : (r+1)*d]
		var mean, v float64
		for _, e := range row {
			mean += float64(e)
		}
		mean /= float64(d)
		for _, e := range row {
			v += (float64(e) - mean) * (float64(e) - mean)
		}
		v /= float64(d)
		for i, e := range row {
			out[r*d+i] = float32((float64(e) - mean) / math.Sqrt(v+1e-5))
		}
	}
	return out
}

// TestORTTextTimeEmbedding checks diffusers' TextTimeEmbedding (the UNet's
// addition_embed_type "text") against a direct transcription of its
// forward pass: norm1, attention pooling with the mean token plus the
// positional embedding as the query over [query; tokens], proj, norm2.
func TestORTTextTimeEmbedding(t *testing.T) {
	const S, D, H, Out = 3, 4, 2, 6
	b := onnxexport.NewBuilder("texttime")
	l := onnxexport.NewLayers(b, 8)
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(S), onnxexport.D(D))
	b.Output("y", l.TextTimeEmbedding("add_embedding", x, Out, H))
	xs := ramp(S*D, 2)
	got := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{1, S, D}, F32: xs}}, "y")["y"]

	h := layerNormRef(xs, S, D)
	pos := param(t, b, "add_embedding.pool.positional_embedding")
	tokens := make([]float32, 0, (S+1)*D)
	for i := range D {
		var m float64
		for s := range S {
			m += float64(h[s*D+i])
		}
		tokens = append(tokens, float32(m/S)+pos[i])
	}
	tokens = append(tokens, h...)
	p := func(n string) []float32 { return param(t, b, "add_embedding.pool."+n) }
	q := linearRef(tokens[:D], p("q_proj.weight"), p("q_proj.bias"), 1, D, D)
	k := linearRef(tokens, p("k_proj.weight"), p("k_proj.bias"), S+1, D, D)
	v := linearRef(tokens, p("v_proj.weight"), p("v_proj.bias"), S+1, D, D)
	const hd = D / H
	pooled := make([]float32, D)
	for head := range H {
		w := make([]float64, S+1)
		var mx, sum float64 = math.Inf(-1), 0
		for j := range S + 1 {
			for d := range hd {
				w[j] += float64(q[head*hd+d]) * float64(k[j*D+head*hd+d])
			}
			w[j] /= math.Sqrt(hd)
			mx = math.Max(mx, w[j])
		}
		for j := range w {
			w[j] = math.Exp(w[j] - mx)
			sum += w[j]
		}
		for d := range hd {
			var s float64
			for j := range w {
				s += w[j] / sum * float64(v[j*D+head*hd+d])
			}
			pooled[head*hd+d] = float32(s)
		}
	}
	proj := linearRef(pooled, param(t, b, "add_embedding.proj.weight"), param(t, b, "add_embedding.proj.bias"), 1, D, Out)
	assertClose(t, got.F32, layerNormRef(proj, 1, Out), 1e-4)
	if len(got.Shape) != 2 || got.Shape[0] != 1 || got.Shape[1] != Out {
		t.Errorf("shape %v, want [1 %d]", got.Shape, Out)
	}
}

// TestUNetTextTimeConfig checks that a UNet with the pooled-text embedding
// carries diffusers' parameter names and config keys for it, and rejects
// a head count that does not divide the text width.
func TestUNetTextTimeConfig(t *testing.T) {
	cfg := onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 8, BlockOutChannels: []int64{32, 64},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 1, AttentionHeads: []int64{2}, CrossAttentionDim: 16, NormGroups: 8, NormEps: 1e-5,
		TextTimeHeads: 4,
	}
	b := onnxexport.NewUNetGraph(cfg, 1)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int64{}
	for _, p := range b.Params() {
		shapes[p.Name] = p.Tensor.Shape
	}
	for name, want := range map[string][]int64{
		"add_embedding.norm1.weight":              {16},
		"add_embedding.pool.positional_embedding": {1, 16},
		"add_embedding.pool.q_proj.weight":        {16, 16},
		"add_embedding.pool.k_proj.bias":          {16},
		"add_embedding.proj.weight":               {128, 16},
		"add_embedding.norm2.bias":                {128},
	} {
		if got, ok := shapes[name]; !ok || len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: shape %v (present %v), want %v", name, got, ok, want)
		}
	}
	cfg.TextTimeHeads = 3
	if err := cfg.Validate(); err == nil {
		t.Error("3 pooling heads over 16 channels: no error")
	}
}
