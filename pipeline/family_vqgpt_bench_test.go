package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

// shippedVQGPT is builtin:vqgpt's folder in the repository.
var shippedVQGPT = filepath.Join("..", "builtin", "models", "vqgpt")

// openShippedKV opens builtin:vqgpt's transformer on one ONNX Runtime
// thread, skipping the benchmark when the folder is not there.
func openShippedKV(b *testing.B) (*kvDecoder, vqgptConfig) {
	testort.Init(b)
	var cfg vqgptConfig
	path := filepath.Join(shippedVQGPT, "transformer", "config.json")
	if _, err := os.Stat(path); err != nil {
		b.Skip("no builtin:vqgpt folder")
	}
	if err := readJSON(path, &cfg); err != nil {
		b.Fatal(err)
	}
	s, err := ort.Open(filepath.Join(shippedVQGPT, "transformer", "model.onnx"), ort.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return newKVDecoder(s, cfg.Layers, cfg.Heads, cfg.HeadDim, cfg.CodebookSize), cfg
}

// prefill returns a cache holding the text and all codes but the last
// (the state before the last token) for batch rows.
func prefill(b *testing.B, d *kvDecoder, cfg vqgptConfig, batch int) *kvCache {
	n := cfg.TextLength + cfg.tokens() - 1
	ids := make([]int64, batch*n)
	for i := range ids {
		ids[i] = int64(cfg.TextVocabSize + i%cfg.CodebookSize)
	}
	past := d.newCache(batch)
	if _, err := d.step(context.Background(), ids, batch, n, d.newCache(batch), past); err != nil {
		b.Fatal(err)
	}
	return past
}

// BenchmarkVQGPTLastToken times the last of a picture's tokens (the
// longest past, 287 positions): with the cache kept in place (cached),
// with ONNX Runtime allocating the present tensors and the host copying
// them back in as the next past (copied: what a session layer without
// preallocated outputs does), and without a cache (the whole sequence in
// one pass).
func BenchmarkVQGPTLastToken(b *testing.B) {
	for _, batch := range []int{1, 2} {
		b.Run(fmt.Sprintf("cached/batch%d", batch), func(b *testing.B) {
			d, cfg := openShippedKV(b)
			past := prefill(b, d, cfg, batch)
			next, ids := d.newCache(batch), make([]int64, batch)
			b.ResetTimer()
			for range b.N {
				if _, err := d.step(context.Background(), ids, batch, 1, past, next); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("copied/batch%d", batch), func(b *testing.B) {
			d, cfg := openShippedKV(b)
			past := prefill(b, d, cfg, batch)
			next := d.newCache(batch)
			b.ResetTimer()
			for range b.N {
				if err := stepCopied(d, batch, past, next); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("uncached/batch%d", batch), func(b *testing.B) {
			d, cfg := openShippedKV(b)
			n := cfg.TextLength + cfg.tokens()
			ids := make([]int64, batch*n)
			past, next := d.newCache(batch), d.newCache(batch)
			b.ResetTimer()
			for range b.N {
				if _, err := d.step(context.Background(), ids, batch, n, past, next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// stepCopied runs one token as step does but lets ONNX Runtime allocate
// the outputs, then copies the present tensors into next's buffers.
func stepCopied(d *kvDecoder, batch int, past, next *kvCache) error {
	p := past.length
	in := map[string]ort.Tensor{
		"input_ids":      {Shape: []int64{int64(batch), 1}, I64: make([]int64, batch)},
		"attention_mask": {Shape: []int64{int64(batch), int64(p + 1)}, I64: make([]int64, batch*(p+1))},
		"position_ids":   {Shape: []int64{int64(batch), 1}, I64: make([]int64, batch)},
	}
	out := map[string]*ort.Tensor{"logits": {}}
	shape := []int64{int64(batch), int64(d.heads), int64(p), int64(d.headDim)}
	for i := range d.layers {
		in[d.pastKey[i]] = ort.Tensor{Shape: shape, F32: past.keys[i]}
		in[d.pastValue[i]] = ort.Tensor{Shape: shape, F32: past.values[i]}
		out[d.presentKey[i]] = &ort.Tensor{}
		out[d.presentValue[i]] = &ort.Tensor{}
	}
	if err := d.sess.Run(context.Background(), in, out); err != nil {
		return err
	}
	next.keys, next.values = resizeLayers(next.keys, d.layers), resizeLayers(next.values, d.layers)
	for i := range d.layers {
		k, v := out[d.presentKey[i]].F32, out[d.presentValue[i]].F32
		next.keys[i] = append(resize(next.keys[i], 0), k...)
		next.values[i] = append(resize(next.values[i], 0), v...)
	}
	return nil
}

// BenchmarkVQGPTPicture times whole pictures of builtin:vqgpt (256
// tokens, then the VQ decoder) with classifier-free guidance, on one
// ONNX Runtime thread.
func BenchmarkVQGPTPicture(b *testing.B) {
	testort.Init(b)
	if _, err := os.Stat(filepath.Join(shippedVQGPT, "model_index.json")); err != nil {
		b.Skip("no builtin:vqgpt folder")
	}
	p, err := Load(context.Background(), shippedVQGPT, Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Generate(context.Background(), Request{Prompts: []string{"a red circle above a blue square"}, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
