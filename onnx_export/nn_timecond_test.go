package onnxexport_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// TestORTUNetTimestepCond checks diffusers' time_cond_proj_dim: a
// timestep_cond input [batch_size, D], a bias-free
// time_embedding.cond_proj [C0, D] that starts at zero, so that the UNet
// grown by it computes what the same weights compute without it, and an
// output that follows timestep_cond once cond_proj is set.
func TestORTUNetTimestepCond(t *testing.T) {
	const dim = 8
	plain := posEmbedUNet()
	cfg := plain
	cfg.TimeCondProjDim = dim
	with := onnxexport.NewUNetGraph(cfg, 3)
	if err := with.Err(); err != nil {
		t.Fatal(err)
	}
	proj := param(t, with, "time_embedding.cond_proj.weight")
	if len(proj) != 16*dim || slices.ContainsFunc(proj, func(v float32) bool { return v != 0 }) {
		t.Fatalf("cond_proj has %d values (want %d), not all zero", len(proj), 16*dim)
	}
	i := slices.IndexFunc(with.Inputs(), func(v *onnxexport.Value) bool { return v.Name() == "timestep_cond" })
	if i < 0 {
		t.Fatal("no timestep_cond input")
	}
	if s := with.Inputs()[i].Shape(); len(s) != 2 || s[1] != onnxexport.D(dim) {
		t.Errorf("timestep_cond dims %v, want [batch_size, %d]", s, dim)
	}
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
	in["timestep_cond"] = ort.Tensor{Shape: []int64{1, dim}, F32: ramp(dim, 1)}
	assertClose(t, runGraph(t, with, in, "out_sample")["out_sample"].F32, base.F32, 1e-5)
	weights["time_embedding.cond_proj.weight"] = onnxexport.NewFloat32([]int64{16, dim}, ramp(16*dim, 0.3))
	if err := with.LoadParams(weights); err != nil {
		t.Fatal(err)
	}
	if maxAbsDiff(runGraph(t, with, in, "out_sample")["out_sample"].F32, base.F32) < 1e-4 {
		t.Error("a nonzero cond_proj left the output unchanged")
	}

	cfg.TimeCondProjDim = -1
	if err := cfg.Validate(); err == nil {
		t.Error("a negative time_cond_proj_dim passed Validate")
	}
}

// TestReadCheckpointEMA reads the weight averages of a saved trainer
// without a trainer: equal to Weights(true), and refused for a file
// without averages.
func TestReadCheckpointEMA(t *testing.T) {
	tr := newArchTrainer(t, "mlp", 10, 1)
	if _, err := tr.Run(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mlp.ckpt")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := onnxexport.ReadCheckpointEMA(path)
	if err != nil {
		t.Fatal(err)
	}
	want, raw := tr.Weights(true), tr.Weights(false)
	if len(got) != len(want) {
		t.Errorf("%d tensors, want the %d parameters", len(got), len(want))
	}
	moved := false
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("parameter %s missing", name)
			continue
		}
		assertClose(t, g.Float32, w.Float32, 0)
		moved = moved || maxAbsDiff(w.Float32, raw[name].Float32) > 0
	}
	if !moved {
		t.Error("the averages equal the weights after 3 steps: the test reads nothing apart")
	}
	if _, err := onnxexport.ReadCheckpointEMA(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file: no error")
	}
}
