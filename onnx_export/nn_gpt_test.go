package onnxexport_test

import (
	"fmt"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// TestGPTCacheMatchesPlain runs the plain GPT on a whole sequence and the
// cached one on a 3-token prefix, then one token at a time feeding each
// step's present tensors back as the next past, and compares the logits
// at every position; the weights are the same (both graphs take them
// from seed 0 by name).
func TestGPTCacheMatchesPlain(t *testing.T) {
	cfg := onnxexport.GPTConfig{Layers: 2, Width: 16, Heads: 4, VocabSize: 30, MaxPositions: 10, OutputSize: 7}
	const n, batch, prefix = 10, 2, 3
	ids := make([]int64, batch*n)
	for i := range ids {
		ids[i] = int64(i*7) % cfg.VocabSize
	}
	want := runGraph(t, onnxexport.NewGPTGraph(cfg, n), map[string]ort.Tensor{"input_ids": {Shape: []int64{batch, n}, I64: ids}}, "logits")["logits"].F32
	h, d := cfg.Heads, cfg.HeadDim()
	past := map[string][]float32{}
	for start := 0; start < n; {
		seq := int64(1)
		if start == 0 {
			seq = prefix
		}
		in := map[string]ort.Tensor{}
		var step, pos, mask []int64
		for r := range batch {
			step = append(step, ids[r*n+start:r*n+start+int(seq)]...)
			for j := range seq {
				pos = append(pos, int64(start)+j)
			}
			for range int64(start) + seq {
				mask = append(mask, 1)
			}
		}
		in["input_ids"] = ort.Tensor{Shape: []int64{batch, seq}, I64: step}
		in["position_ids"] = ort.Tensor{Shape: []int64{batch, seq}, I64: pos}
		in["attention_mask"] = ort.Tensor{Shape: []int64{batch, int64(start) + seq}, I64: mask}
		outs := []string{"logits"}
		for i := range cfg.Layers {
			for _, kv := range []string{"key", "value"} {
				p := past[fmt.Sprintf("%d.%s", i, kv)]
				if p == nil {
					p = []float32{}
				}
				in[fmt.Sprintf("past_key_values.%d.%s", i, kv)] = ort.Tensor{Shape: []int64{batch, h, int64(start), d}, F32: p}
				outs = append(outs, fmt.Sprintf("present.%d.%s", i, kv))
			}
		}
		res := runGraph(t, onnxexport.NewGPTCachedGraph(cfg), in, outs...)
		for i := range cfg.Layers {
			for _, kv := range []string{"key", "value"} {
				pr := res[fmt.Sprintf("present.%d.%s", i, kv)]
				if got, want := pr.Shape, []int64{batch, h, int64(start) + seq, d}; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("present.%d.%s has shape %v, want %v", i, kv, got, want)
				}
				past[fmt.Sprintf("%d.%s", i, kv)] = pr.F32
			}
		}
		got := res["logits"].F32
		for r := range batch {
			off := (r*n + start) * int(cfg.OutputSize)
			assertClose(t, got[r*int(seq*cfg.OutputSize):(r+1)*int(seq*cfg.OutputSize)], want[off:off+int(seq*cfg.OutputSize)], 1e-5)
		}
		start += int(seq)
	}
}

// TestGPTAttentionMask checks attention_mask: with position 1 hidden, the
// last position's logits do not depend on the token there.
func TestGPTAttentionMask(t *testing.T) {
	cfg := onnxexport.GPTConfig{Layers: 1, Width: 8, Heads: 2, VocabSize: 10, MaxPositions: 4, OutputSize: 5}
	run := func(tok int64) []float32 {
		in := map[string]ort.Tensor{
			"input_ids":      {Shape: []int64{1, 3}, I64: []int64{1, tok, 3}},
			"position_ids":   {Shape: []int64{1, 3}, I64: []int64{0, 1, 2}},
			"attention_mask": {Shape: []int64{1, 3}, I64: []int64{1, 0, 1}},
		}
		for _, kv := range []string{"key", "value"} {
			in["past_key_values.0."+kv] = ort.Tensor{Shape: []int64{1, 2, 0, 4}, F32: []float32{}}
		}
		return runGraph(t, onnxexport.NewGPTCachedGraph(cfg), in, "logits")["logits"].F32[10:]
	}
	assertClose(t, run(2), run(7), 1e-6)
}

func TestGPTConfigErrors(t *testing.T) {
	for _, cfg := range []onnxexport.GPTConfig{
		{Layers: 0, Width: 8, Heads: 2, VocabSize: 10, MaxPositions: 4, OutputSize: 5},
		{Layers: 1, Width: 9, Heads: 2, VocabSize: 10, MaxPositions: 4, OutputSize: 5},
		{Layers: 1, Width: 8, Heads: 2, VocabSize: 0, MaxPositions: 4, OutputSize: 5},
	} {
		if _, err := onnxexport.NewGPTCachedGraph(cfg).Build(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := onnxexport.NewGPTGraph(onnxexport.GPTConfig{Layers: 1, Width: 8, Heads: 2, VocabSize: 10, MaxPositions: 4, OutputSize: 5}, 5).Build(); err == nil {
		t.Error("a plain graph longer than MaxPositions: no error")
	}
}
