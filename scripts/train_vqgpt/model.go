package main

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// The sequence the transformer reads: textLen text tokens of the shapes
// BPE vocabulary (builtin:default's tokenizer, padded with its EOS token),
// then the gridSide² VQ-VAE codes of the picture in row-major order. Text
// ids keep their values; code c is id textVocab+c. The model predicts
// codes only, so its logits span the codebookSize codes.
const (
	textLen      = 32
	textVocab    = 640
	gridSide     = 16
	imageTokens  = gridSide * gridSide
	codebookSize = 1024
	// seqLen is the longest sequence: the last code is never an input.
	seqLen = textLen + imageTokens
	// trainInputs is the number of positions the training graph reads:
	// the text and every code but the last.
	trainInputs = seqLen - 1
)

// arch is the decoder-only transformer's size.
type arch struct {
	layers int
	width  int64
	heads  int64
}

func (a arch) gpt() onnxexport.GPTConfig {
	return onnxexport.GPTConfig{Layers: a.layers, Width: a.width, Heads: a.heads,
		VocabSize: textVocab + codebookSize, MaxPositions: seqLen, OutputSize: codebookSize}
}

// gptLoss builds the training step's loss: inputs ids int64 [B,
// trainInputs] (text, then codes 0..254 shifted by textVocab) and targets
// int64 [B, imageTokens] (the codes); loss the mean cross-entropy of the
// code at each grid position given the text and the codes before it,
// read from the logits at positions textLen-1 .. seqLen-2.
func gptLoss(a arch, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value, error) {
	if err := a.gpt().Validate(); err != nil {
		return nil, nil, fmt.Errorf("transformer: %w", err)
	}
	b := onnxexport.NewBuilder("vqgpt")
	l := onnxexport.NewLayers(b, seed)
	ids := b.Input("ids", onnxexport.Int64, onnxexport.D(batch), onnxexport.D(trainInputs))
	targets := b.Input("targets", onnxexport.Int64, onnxexport.D(batch), onnxexport.D(imageTokens))
	pos := make([]int64, trainInputs)
	for i := range pos {
		pos[i] = int64(i)
	}
	att := &onnxexport.GPTAttention{Mask: b.Const(onnxexport.CausalMask(trainInputs))}
	logits := l.GPT(a.gpt(), ids, b.ConstInts(pos...), att)
	logits = b.Slice(logits, []int64{textLen - 1}, []int64{trainInputs}, []int64{1}, nil)
	loss := b.CrossEntropyLoss(b.Reshape(logits, -1, codebookSize), b.Reshape(targets, -1))
	return b, loss, b.Err()
}
