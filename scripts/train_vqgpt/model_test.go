package main

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func TestCorpusExample(t *testing.T) {
	c := &corpus{text: make([]uint16, 2*textLen), codes: make([]uint16, 2*imageTokens), empty: make([]int64, textLen)}
	for k := range textLen {
		c.text[textLen+k] = uint16(100 + k)
		c.empty[k] = 7
	}
	for k := range imageTokens {
		c.codes[imageTokens+k] = uint16(k * 3)
	}
	ids, targets := make([]int64, trainInputs), make([]int64, imageTokens)
	slots := []onnxexport.ExampleSlot{{I64: ids}, {I64: targets}}
	rng := rand.New(rand.NewPCG(1, 1))
	if err := c.Example(1, rng, slots); err != nil {
		t.Fatal(err)
	}
	for k := range textLen {
		if ids[k] != int64(100+k) {
			t.Fatalf("text id %d: got %d, want %d", k, ids[k], 100+k)
		}
	}
	for k := range imageTokens {
		if targets[k] != int64(k*3) {
			t.Fatalf("target %d: got %d, want %d", k, targets[k], k*3)
		}
		// Code k is the input at position textLen+k and the target read
		// one position earlier.
		if k < imageTokens-1 && ids[textLen+k] != textVocab+int64(k*3) {
			t.Fatalf("input %d: got %d, want %d", textLen+k, ids[textLen+k], textVocab+k*3)
		}
	}
	c.dropout = 1
	if err := c.Example(1, rng, slots); err != nil {
		t.Fatal(err)
	}
	for k := range textLen {
		if ids[k] != 7 {
			t.Fatalf("dropped prompt: text id %d is %d, want the empty prompt's 7", k, ids[k])
		}
	}
}

func TestCorpusRoundTrip(t *testing.T) {
	c := &corpus{text: make([]uint16, 3*textLen), codes: make([]uint16, 3*imageTokens)}
	for i := range c.codes {
		c.codes[i] = uint16(i % codebookSize)
	}
	path := filepath.Join(t.TempDir(), "tokens-3.bin")
	if err := c.write(path); err != nil {
		t.Fatal(err)
	}
	var back corpus
	if err := back.read(path, 3); err != nil {
		t.Fatal(err)
	}
	for i := range c.codes {
		if back.codes[i] != c.codes[i] {
			t.Fatalf("code %d: got %d, want %d", i, back.codes[i], c.codes[i])
		}
	}
	if err := back.read(path, 2); err == nil {
		t.Error("reading 3 pictures as 2: no error")
	}
	if err := back.read(path, 4); err == nil {
		t.Error("reading 3 pictures as 4: no error")
	}
}

func TestLossGraphBuilds(t *testing.T) {
	b, loss, err := gptLoss(arch{layers: 1, width: 16, heads: 2}, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gptLoss(arch{layers: 1, width: 15, heads: 2}, 1, 2); err == nil {
		t.Error("width 15 with 2 heads: no error")
	}
}
