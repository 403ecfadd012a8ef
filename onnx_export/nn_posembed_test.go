package onnxexport_test

import (
	"path/filepath"
	"strings"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

func posEmbedUNet() onnxexport.UNetConfig {
	return onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 8, BlockOutChannels: []int64{16, 32},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 1, AttentionHeads: []int64{2}, CrossAttentionDim: 16, NormGroups: 8, NormEps: 1e-5,
		PositionEmbedding: true,
	}
}

// TestORTUNetPositionEmbedding checks the learned position embedding: a
// [1,C,S,S] pos_embed parameter, static S x S sample dimensions, and an
// embedding that is added after conv_in: with pos_embed zeroed the UNet
// computes what the same weights compute without it, and with it set the
// output changes.
func TestORTUNetPositionEmbedding(t *testing.T) {
	cfg := posEmbedUNet()
	with := onnxexport.NewUNetGraph(cfg, 3)
	if err := with.Err(); err != nil {
		t.Fatal(err)
	}
	pos := param(t, with, "pos_embed")
	if len(pos) != 16*8*8 {
		t.Fatalf("pos_embed has %d values, want %d", len(pos), 16*8*8)
	}
	for _, in := range with.Inputs() {
		if in.Name() == "sample" {
			if s := in.Shape(); len(s) != 4 || s[2] != onnxexport.D(8) || s[3] != onnxexport.D(8) {
				t.Errorf("sample dims %v, want static 8x8 height and width", s)
			}
		}
	}
	plain := cfg
	plain.PositionEmbedding = false
	without := onnxexport.NewUNetGraph(plain, 3)
	weights := map[string]*onnxexport.Tensor{}
	for _, p := range with.Params() {
		weights[p.Name] = p.Tensor
	}
	if err := without.LoadParams(weights); err != nil {
		t.Fatal(err)
	}
	in := map[string]ort.Tensor{
		"sample":                {Shape: []int64{1, 4, 8, 8}, F32: ramp(4*64, 1)},
		"timestep":              {Shape: []int64{}, F32: []float32{500}},
		"encoder_hidden_states": {Shape: []int64{1, 3, 16}, F32: ramp(3*16, 0.5)},
	}
	base := runGraph(t, without, in, "out_sample")["out_sample"]
	moved := runGraph(t, with, in, "out_sample")["out_sample"]
	if maxAbsDiff(base.F32, moved.F32) < 1e-4 {
		t.Error("a random pos_embed left the output unchanged")
	}
	zero := &onnxexport.Tensor{DType: onnxexport.Float32, Shape: []int64{1, 16, 8, 8}, Float32: make([]float32, 16*64)}
	weights["pos_embed"] = zero
	if err := with.LoadParams(weights); err != nil {
		t.Fatal(err)
	}
	assertClose(t, runGraph(t, with, in, "out_sample")["out_sample"].F32, base.F32, 1e-5)

	cfg.SampleSize = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "sample size") {
		t.Errorf("position embedding without a sample size: %v", err)
	}
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

// TestReadCheckpointWeights reads the weights of a saved trainer without
// a trainer: every parameter, none of the optimizer state, equal to what
// the trainer holds.
func TestReadCheckpointWeights(t *testing.T) {
	tr := newArchTrainer(t, "mlp", 10, 1)
	path := filepath.Join(t.TempDir(), "mlp.ckpt")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := onnxexport.ReadCheckpointWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	want := tr.Weights(false)
	if len(got) != len(want) {
		t.Errorf("%d tensors, want the %d parameters", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("parameter %s missing", name)
			continue
		}
		assertClose(t, g.Float32, w.Float32, 0)
	}
	if _, err := onnxexport.ReadCheckpointWeights(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file: no error")
	}
}
