package onnxexport

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// TestParamsMatchDiffusersExport builds the tiny architecture and checks
// that every parameter the real (PyTorch) export of the same architecture
// kept under its state_dict name exists here with the same shape.
func TestParamsMatchDiffusersExport(t *testing.T) {
	dir := conformance.Dir(t, "sd1-tiny")
	cfg := TinySD()
	cfg.Text.VocabSize = 787 // the conformance tokenizer's vocabulary
	for _, tc := range []struct {
		component string
		prefix    string // the export's module prefix
		graph     *Builder
	}{
		{"unet", "u.", NewUNetGraph(cfg.UNet, 1)},
		{"vae_decoder", "v.", NewVAEDecoderGraph(cfg.VAE, 1)},
		{"vae_encoder", "v.", NewVAEEncoderGraph(cfg.VAE, 1)},
		{"text_encoder", "m.", NewCLIPTextGraph(cfg.Text, 1)},
	} {
		t.Run(tc.component, func(t *testing.T) {
			if err := tc.graph.Err(); err != nil {
				t.Fatal(err)
			}
			ref, err := ReadModel(filepath.Join(dir, tc.component, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			ours := map[string][]int64{}
			for _, p := range tc.graph.Params() {
				ours[p.Name] = p.Tensor.Shape
			}
			matched := 0
			for name, tensor := range ref.Initializers {
				if !strings.HasPrefix(name, tc.prefix) {
					continue // renamed by the exporter (e.g. transposed MatMul weights)
				}
				key := strings.TrimPrefix(name, tc.prefix)
				if tc.prefix == "m." {
					key = "text_model." + key
				}
				shape, ok := ours[key]
				if !ok {
					t.Errorf("parameter %s missing", key)
					continue
				}
				if !equalInts(shape, tensor.Shape) {
					t.Errorf("%s: shape %v, export has %v", key, shape, tensor.Shape)
				}
				matched++
			}
			if matched == 0 {
				t.Fatal("no parameters compared")
			}
			for i, in := range ref.Inputs {
				var got *Value
				if i < len(tc.graph.Inputs()) {
					got = tc.graph.Inputs()[i]
				}
				if got == nil || got.Name() != in.Name || got.DType() != in.DType || got.Rank() != in.Shape.Rank() {
					t.Errorf("input %d: export has %s %v %v, we have %+v", i, in.Name, in.DType, in.Shape, got)
				}
			}
			for i, out := range ref.Outputs {
				got := tc.graph.Outputs()[i]
				if got.Name() != out.Name || got.DType() != out.DType || got.Rank() != out.Shape.Rank() {
					t.Errorf("output %d: export has %s %v %v, we have %s %v %v", i, out.Name, out.DType, out.Shape, got.Name(), got.DType(), got.Shape())
				}
			}
		})
	}
}

func TestBlockShapes(t *testing.T) {
	b := NewBuilder("blocks")
	l := NewLayers(b, 7)
	x := b.Input("x", Float32, Sym("batch"), D(16), D(8), D(8))
	temb := b.Input("temb", Float32, Sym("batch"), D(64))
	ctx := b.Input("ctx", Float32, Sym("batch"), D(5), D(24))
	for _, tc := range []struct {
		name string
		v    func() *Value
		want string
	}{
		{"linear", func() *Value { return l.Linear("fc", ctx, 40, true) }, "[batch,5,40]"},
		{"conv stride 2", func() *Value { return l.Conv2d("c", x, 8, 3, Conv2dOptions{Stride: 2, Padding: 1}) }, "[batch,8,4,4]"},
		{"groupnorm", func() *Value { return l.GroupNorm("gn", x, 4, 1e-5) }, "[batch,16,8,8]"},
		{"resnet", func() *Value { return l.ResnetBlock2D("r", x, temb, ResnetOptions{Out: 32, Groups: 4, Eps: 1e-5}) }, "[batch,32,8,8]"},
		{"down vae", func() *Value { return l.Downsample2D("d", x, 0) }, "[batch,16,4,4]"},
		{"up", func() *Value { return l.Upsample2D("u", x) }, "[batch,16,16,16]"},
		{"attention", func() *Value { return l.Attention("a", ctx, nil, 4, 6) }, "[batch,5,24]"},
		{"transformer2d", func() *Value {
			return l.Transformer2DModel("t", x, ctx, Transformer2DOptions{Heads: 2, HeadDim: 8, NormGroups: 4})
		}, "[batch,16,8,8]"},
		{"transformer2d linear", func() *Value {
			return l.Transformer2DModel("tl", x, ctx, Transformer2DOptions{Heads: 2, HeadDim: 8, NormGroups: 4, LinearProjection: true})
		}, "[batch,16,8,8]"},
		{"timestep", func() *Value { return l.TimestepProjection(b.Input("t", Float32, Sym("batch")), 32, true, 0) }, "[batch,32]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v()
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if got := v.Shape().String(); got != tc.want {
				t.Errorf("shape %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBlockErrorsNameBlock(t *testing.T) {
	b := NewBuilder("bad")
	l := NewLayers(b, 1)
	x := b.Input("x", Float32, D(1), D(12), D(4), D(4))
	done := l.Scope("down_blocks.1")
	l.GroupNorm("norm1", x, 5, 1e-5)
	done()
	err := b.Err()
	if err == nil {
		t.Fatal("no error for 12 channels in 5 groups")
	}
	for _, want := range []string{"down_blocks.1.norm1", "[1,12,4,4]", "5 groups"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
