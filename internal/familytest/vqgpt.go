package familytest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/defaultmodel"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Sizes of the tiny vqgpt checkpoint: the text side is builtin:default's
// shapes tokenizer, the codes are WriteVQVAE's.
const (
	VQGPTTextLength = 32
	VQGPTTextVocab  = 640
	VQGPTLayers     = 2
	VQGPTHeads      = 2
	VQGPTWidth      = 16
)

// VQGPTConfig is the tiny vqgpt checkpoint's transformer.
func VQGPTConfig() onnxexport.GPTConfig {
	return onnxexport.GPTConfig{Layers: VQGPTLayers, Width: VQGPTWidth, Heads: VQGPTHeads,
		VocabSize: VQGPTTextVocab + CodebookSize, MaxPositions: VQGPTTextLength + CodeGrid*CodeGrid, OutputSize: CodebookSize}
}

// WriteVQGPT writes a tiny ImagegenVQGPTPipeline folder to dir: a random
// GPT with a key/value cache over the text ids and WriteVQVAE's codes, its
// decoder, and the shapes tokenizer.
func WriteVQGPT(dir string, seed uint64) error {
	if err := WriteVQVAE(dir, seed); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(dir, "vq_encoder")); err != nil {
		return err
	}
	// NewGPTCachedGraph's weights are random (seed 0): the logits differ
	// between positions and prompts.
	cfg := VQGPTConfig()
	b := onnxexport.NewGPTCachedGraph(cfg)
	m, err := b.Build()
	if err != nil {
		return fmt.Errorf("familytest: vqgpt: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "transformer"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(dir, "transformer", "model.onnx"), m); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "transformer", "config.json"), map[string]any{
		"num_hidden_layers": cfg.Layers, "num_attention_heads": cfg.Heads, "head_dim": cfg.HeadDim(), "hidden_size": cfg.Width,
		"text_length": VQGPTTextLength, "text_vocab_size": VQGPTTextVocab, "codebook_size": CodebookSize,
		"latent_size": []int{CodeGrid, CodeGrid}, "max_position_embeddings": cfg.MaxPositions,
		"temperature": 1.0, "top_k": 0, "top_p": 1.0}); err != nil {
		return err
	}
	tok, err := fs.Sub(defaultmodel.FS(), "tokenizer")
	if err != nil {
		return err
	}
	if err := os.CopyFS(filepath.Join(dir, "tokenizer"), tok); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "model_index.json"), map[string]any{
		"_class_name": "ImagegenVQGPTPipeline", "_imagegen_family": "vqgpt",
		"transformer": []string{"imagegen", "VQGPTTransformer"}, "vq_decoder": []string{"imagegen", "VQDecoder"},
		"tokenizer":         []string{"transformers", "CLIPTokenizer"},
		"imagegen_defaults": map[string]any{"height": SampleSize, "width": SampleSize, "guidance": 3}})
}
