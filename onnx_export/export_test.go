package onnxexport_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/tokenizer"
)

// TestExportTinySDRuns exports the tiny architecture and runs every
// component in ONNX Runtime with the real exports' input names and types.
func TestExportTinySDRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := onnxexport.ExportOptimum(dir, onnxexport.TinySD(), onnxexport.ExportOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := onnxexport.ExportOptimum(dir, onnxexport.TinySD(), onnxexport.ExportOptions{}); err == nil {
		t.Error("second export into an existing folder succeeded")
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.EncodePadded("a red cube", 77)
	ids32 := make([]int64, len(ids))
	for i, id := range ids {
		ids32[i] = int64(id)
	}
	v := onnxexport.TinyVocabSize()
	if ids32[0] != v-2 || int64(tok.EOSID()) != v-1 {
		t.Errorf("BOS %d, EOS %d; want %d, %d", ids32[0], tok.EOSID(), v-2, v-1)
	}
	if got := tok.Tokens(tok.Encode("the")); len(got) != 3 || got[1] != "the</w>" {
		t.Errorf("tokens of \"the\" = %q, want BOS, the</w>, EOS", got)
	}
	testort.Init(t)
	zeros := func(n int) []float32 { return make([]float32, n) }
	for _, tc := range []struct {
		component string
		in        map[string]ort.Tensor
		out       map[string][]int64
	}{
		{"text_encoder", map[string]ort.Tensor{"input_ids": {Shape: []int64{1, 77}, I64: ids32}},
			map[string][]int64{"last_hidden_state": {1, 77, 32}, "pooler_output": {1, 32}}},
		{"unet", map[string]ort.Tensor{
			"sample":                {Shape: []int64{2, 4, 8, 8}, F32: zeros(2 * 4 * 64)},
			"timestep":              {Shape: []int64{}, F32: []float32{999}},
			"encoder_hidden_states": {Shape: []int64{2, 77, 32}, F32: zeros(2 * 77 * 32)},
		}, map[string][]int64{"out_sample": {2, 4, 8, 8}}},
		{"vae_decoder", map[string]ort.Tensor{"latent_sample": {Shape: []int64{1, 4, 8, 8}, F32: zeros(256)}},
			map[string][]int64{"sample": {1, 3, 16, 16}}},
		{"vae_encoder", map[string]ort.Tensor{"sample": {Shape: []int64{1, 3, 16, 16}, F32: zeros(768)}},
			map[string][]int64{"latent_parameters": {1, 8, 8, 8}}},
	} {
		t.Run(tc.component, func(t *testing.T) {
			path := filepath.Join(dir, tc.component, "model.onnx")
			m, err := onnxexport.ReadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.Opset != onnxexport.Opset || m.Metadata["imagegen.arch"] != "tiny-sd" {
				t.Errorf("opset %d, metadata %v", m.Opset, m.Metadata)
			}
			s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			outs := map[string]*ort.Tensor{}
			for name := range tc.out {
				outs[name] = &ort.Tensor{}
			}
			if err := s.Run(context.Background(), tc.in, outs); err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.out {
				got := outs[name]
				if len(got.Shape) != len(want) {
					t.Fatalf("%s shape %v, want %v", name, got.Shape, want)
				}
				for i := range want {
					if got.Shape[i] != want[i] {
						t.Fatalf("%s shape %v, want %v", name, got.Shape, want)
					}
				}
				for i, v := range got.F32 {
					if v != v {
						t.Fatalf("%s[%d] is NaN", name, i)
					}
				}
			}
		})
	}
}
