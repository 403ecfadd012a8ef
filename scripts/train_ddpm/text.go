package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// captionHidden runs builtin:default's frozen text encoder (base/
// text_encoder, its tokenizer base/tokenizer) over the captions of the
// first n training pictures and over "", returning their last hidden
// states: the model reads prompts through the same encoder, so the
// export ships it unchanged.
func captionHidden(ctx context.Context, base string, n, threads int) (hidden, empty []float32, err error) {
	return captionsHidden(ctx, base, shapes.Train, n, threads)
}

// heldOutHidden is captionHidden over the held-out split.
func heldOutHidden(ctx context.Context, base string, n, threads int) (hidden, empty []float32, err error) {
	return captionsHidden(ctx, base, shapes.HeldOut, n, threads)
}

func captionsHidden(ctx context.Context, base string, split shapes.Split, n, threads int) (hidden, empty []float32, err error) {
	tok, err := tokenizer.Load(filepath.Join(base, "tokenizer"))
	if err != nil {
		return nil, nil, err
	}
	sess, err := ort.Open(filepath.Join(base, "text_encoder", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, nil, err
	}
	defer sess.Close()
	per := contextLength * textWidth
	run := func(texts []string, dst []float32) error {
		ids := make([]int64, 0, len(texts)*contextLength)
		for _, t := range texts {
			for _, id := range tok.EncodePadded(t, contextLength) {
				ids = append(ids, int64(id))
			}
		}
		if len(ids) != len(texts)*contextLength {
			return fmt.Errorf("a caption needs more than %d tokens", contextLength)
		}
		m := int64(len(texts))
		return sess.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{m, contextLength}, I64: ids}},
			map[string]*ort.Tensor{"last_hidden_state": {Shape: []int64{m, contextLength, textWidth}, F32: dst}})
	}
	lo, _ := split.SeedRange()
	hidden = make([]float32, n*per)
	const batch = 500
	texts := make([]string, 0, batch)
	for i := 0; i < n; i += batch {
		texts = texts[:0]
		for k := i; k < min(n, i+batch); k++ {
			texts = append(texts, shapes.Caption(lo+uint64(k)))
		}
		if err := run(texts, hidden[i*per:(i+len(texts))*per]); err != nil {
			return nil, nil, err
		}
	}
	empty = make([]float32, per)
	if err := run([]string{""}, empty); err != nil {
		return nil, nil, err
	}
	return hidden, empty, nil
}

// baseUNetWeights reads builtin:default's UNet (base/unet) as float32
// tensors under the training graph's parameter names.
func baseUNetWeights(base string) (map[string]*onnxexport.Tensor, error) {
	m, err := onnxexport.ReadModel(filepath.Join(base, "unet", "model.onnx"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*onnxexport.Tensor, len(m.Initializers))
	for name, t := range m.Initializers {
		name, half := strings.CutSuffix(name, "::float16")
		if !half && t.DType != onnxexport.Float32 {
			continue
		}
		v, err := t.AsFloat32()
		if err != nil {
			return nil, fmt.Errorf("unet weight %s: %w", name, err)
		}
		out[name] = onnxexport.NewFloat32(t.Shape, v)
	}
	return out, nil
}

// overlay replaces the tensors of init that prev has under the same name
// and shape, and returns how many it replaced.
func overlay(init, prev map[string]*onnxexport.Tensor) int {
	n := 0
	for k, p := range init {
		if v, ok := prev[k]; ok && slices.Equal(p.Shape, v.Shape) {
			init[k] = v
			n++
		}
	}
	return n
}
