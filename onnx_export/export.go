package onnxexport

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ExportOptions configure ExportOptimum.
type ExportOptions struct {
	// Seed drives the random weights; each component derives its own
	// stream from it.
	Seed uint64
	// Float16Weights stores weights as float16 (computation stays float32).
	Float16Weights bool
	// Weights, when it holds a component ("text_encoder", "unet",
	// "vae_encoder", "vae_decoder"), replaces that component's random
	// weights with these, by diffusers state-dict name (Builder.LoadParams):
	// a conversion of trained weights instead of a random export.
	Weights map[string]map[string]*Tensor
	// Files are written last, relative to the folder, replacing what the
	// export writes by default (a real tokenizer's vocab.json and
	// merges.txt, a scheduler config, a model_index.json).
	Files map[string][]byte
	// Progress, when set, is told what is being built or written: stage
	// names a component ("unet"), done and total count bytes written (both
	// 0 while a graph is being built).
	Progress func(stage string, done, total int64)
}

// ExportOptimum writes the architecture cfg with random weights to dir in
// the Hugging Face Optimum / diffusers layout: text_encoder, unet,
// vae_encoder and vae_decoder (model.onnx and config.json each), scheduler,
// tokenizer and model_index.json, with the input and output names and
// types of real exports. The folder is written under a temporary name and
// renamed into place, so dir never holds half an export; dir must not
// exist yet.
func ExportOptimum(dir string, cfg SDConfig, opts ExportOptions) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("onnxexport: export %s: %w: folder already exists", dir, ErrArgument)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := writeOptimum(tmp, cfg, opts); err != nil {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("onnxexport: export %s: %w", dir, err)
	}
	return nil
}

func writeOptimum(root string, cfg SDConfig, opts ExportOptions) error {
	if opts.Files["tokenizer/vocab.json"] == nil && cfg.Text.BOSTokenID < TinyVocabSize()-2 || cfg.Text.EOSTokenID >= cfg.Text.VocabSize || cfg.Text.BOSTokenID >= cfg.Text.VocabSize {
		return fmt.Errorf("%w: text encoder vocabulary %d with BOS %d and EOS %d cannot hold the %d-token tokenizer", ErrArgument, cfg.Text.VocabSize, cfg.Text.BOSTokenID, cfg.Text.EOSTokenID, TinyVocabSize())
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	components := []struct {
		name   string
		build  func(seed uint64) *Builder
		config any
	}{
		{"text_encoder", func(s uint64) *Builder { return NewCLIPTextGraph(cfg.Text, s) }, clipConfigJSON(cfg.Text)},
		{"unet", func(s uint64) *Builder { return NewUNetGraph(cfg.UNet, s) }, unetConfigJSON(cfg.UNet)},
		{"vae_encoder", func(s uint64) *Builder { return NewVAEEncoderGraph(cfg.VAE, s) }, vaeConfigJSON(cfg.VAE)},
		{"vae_decoder", func(s uint64) *Builder { return NewVAEDecoderGraph(cfg.VAE, s) }, vaeConfigJSON(cfg.VAE)},
	}
	if cfg.Text2.NumLayers > 0 {
		components = append(components, struct {
			name   string
			build  func(seed uint64) *Builder
			config any
		}{"text_encoder_2", func(s uint64) *Builder { return NewCLIPTextGraph(cfg.Text2, s) }, clipConfigJSON(cfg.Text2)})
	}
	for i, c := range components {
		progress(c.name, 0, 0)
		b := c.build(opts.Seed*16 + uint64(i) + 1)
		b.SetMetadata("imagegen.arch", cfg.Name)
		b.SetMetadata("imagegen.component", c.name)
		if w, ok := opts.Weights[c.name]; ok {
			if err := b.LoadParams(w); err != nil {
				return err
			}
			b.SetMetadata("imagegen.seed", "converted")
		} else {
			b.SetMetadata("imagegen.seed", fmt.Sprint(opts.Seed))
		}
		var bopts []BuildOption
		if opts.Float16Weights {
			bopts = append(bopts, WithFloat16Weights())
		}
		m, err := b.Build(bopts...)
		if err != nil {
			return err
		}
		sub := filepath.Join(root, c.name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		name := c.name
		err = Save(filepath.Join(sub, "model.onnx"), m, WithProgress(func(done, total int64) { progress(name, done, total) }))
		if err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(sub, "config.json"), c.config); err != nil {
			return err
		}
	}
	files := map[string]any{
		"model_index.json":                  modelIndexJSON(cfg),
		"scheduler/scheduler_config.json":   schedulerConfigJSON(),
		"tokenizer/tokenizer_config.json":   tokenizerConfigJSON(cfg.Text),
		"tokenizer/special_tokens_map.json": specialTokensJSON(),
		"tokenizer/vocab.json":              byteLevelVocab(cfg.Text),
	}
	tokenizers := []string{"tokenizer"}
	if cfg.Text2.NumLayers > 0 {
		files["tokenizer_2/tokenizer_config.json"] = tokenizerConfigJSON(cfg.Text2)
		files["tokenizer_2/special_tokens_map.json"] = specialTokensJSON()
		files["tokenizer_2/vocab.json"] = byteLevelVocab(cfg.Text2)
		tokenizers = append(tokenizers, "tokenizer_2")
	}
	for rel, v := range files {
		if err := writeJSON(filepath.Join(root, rel), v); err != nil {
			return err
		}
	}
	merges := "#version: 0.2\n"
	for _, m := range tinyMerges() {
		merges += m[0] + " " + m[1] + "\n"
	}
	for _, t := range tokenizers {
		if err := writeFileAtomic(filepath.Join(root, t, "merges.txt"), []byte(merges)); err != nil {
			return err
		}
	}
	for rel, data := range opts.Files {
		clean := filepath.Clean(filepath.FromSlash(rel))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%w: file %q lies outside the export", ErrArgument, rel)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, clean)), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(root, clean), data); err != nil {
			return err
		}
	}
	return nil
}

// tinyMerges are a few common English BPE merges, enough for a real
// tokenizer to exercise merging; all other text is spelled in bytes.
func tinyMerges() [][2]string {
	return [][2]string{
		{"t", "h"}, {"i", "n"}, {"e", "r"}, {"a", "n"}, {"r", "e"}, {"o", "n"},
		{"e", "n"}, {"a", "t"}, {"o", "r"}, {"e", "s"}, {"th", "e</w>"}, {"in", "g</w>"},
	}
}

// TinyVocabSize is the vocabulary size of the tokenizer ExportOptimum
// writes: 512 byte tokens, the merges, then BOS and EOS.
func TinyVocabSize() int64 { return 512 + int64(len(tinyMerges())) + 2 }

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// bytesToUnicode is CLIP/GPT-2's reversible byte-to-character table: the
// printable Latin-1 bytes map to themselves, the rest to code points from
// 256 up, in the order the vocabulary lists them.
func bytesToUnicode() []rune {
	var order []int
	inTable := make([]bool, 256)
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for c := r[0]; c <= r[1]; c++ {
			order = append(order, c)
			inTable[c] = true
		}
	}
	chars := make([]rune, 0, 256)
	for _, c := range order {
		chars = append(chars, rune(c))
	}
	n := 0
	for c := range 256 {
		if !inTable[c] {
			chars = append(chars, rune(256+n))
			n++
		}
	}
	return chars
}

// byteLevelVocab is a small CLIP vocabulary: the 256 byte characters, the
// same with the end-of-word marker, the tinyMerges results, then BOS and EOS
// at the text config's ids.
func byteLevelVocab(c CLIPTextConfig) map[string]int64 {
	vocab := map[string]int64{}
	chars := bytesToUnicode()
	for i, r := range chars {
		vocab[string(r)] = int64(i)
		vocab[string(r)+"</w>"] = int64(len(chars) + i)
	}
	for i, m := range tinyMerges() {
		vocab[m[0]+m[1]] = int64(2*len(chars) + i)
	}
	vocab["<|startoftext|>"] = c.BOSTokenID
	vocab["<|endoftext|>"] = c.EOSTokenID
	return vocab
}

func clipConfigJSON(c CLIPTextConfig) map[string]any {
	arch, proj := "CLIPTextModel", c.HiddenSize
	if c.ProjectionDim > 0 {
		arch, proj = "CLIPTextModelWithProjection", c.ProjectionDim
	}
	return map[string]any{
		"architectures": []string{arch}, "model_type": "clip_text_model",
		"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize, "intermediate_size": c.IntermediateSize,
		"num_hidden_layers": c.NumLayers, "num_attention_heads": c.NumHeads,
		"max_position_embeddings": c.MaxPositionEmbeddings, "hidden_act": c.HiddenAct,
		"layer_norm_eps": c.LayerNormEps, "bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID,
		"pad_token_id": c.EOSTokenID, "projection_dim": proj, "dtype": "float32",
		"attention_dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02,
	}
}

func unetConfigJSON(c UNetConfig) map[string]any {
	var heads any = c.AttentionHeads
	if len(c.AttentionHeads) == 1 {
		heads = c.AttentionHeads[0]
	}
	var tl any = 1
	if len(c.TransformerLayers) == 1 {
		tl = c.TransformerLayers[0]
	} else if len(c.TransformerLayers) > 1 {
		tl = c.TransformerLayers
	}
	m := map[string]any{
		"_class_name": "UNet2DConditionModel", "act_fn": "silu",
		"in_channels": c.InChannels, "out_channels": c.OutChannels, "sample_size": c.SampleSize,
		"block_out_channels": c.BlockOutChannels, "down_block_types": c.DownBlockTypes,
		"up_block_types": c.UpBlockTypes, "mid_block_type": "UNetMidBlock2DCrossAttn",
		"layers_per_block": c.LayersPerBlock, "attention_head_dim": heads, "num_attention_heads": nil,
		"transformer_layers_per_block": tl, "cross_attention_dim": c.CrossAttentionDim,
		"norm_num_groups": c.NormGroups, "norm_eps": c.NormEps,
		"use_linear_projection": c.LinearProjection, "flip_sin_to_cos": c.FlipSinToCos,
		"freq_shift": c.FreqShift, "center_input_sample": false, "downsample_padding": 1,
		"time_embedding_type": "positional", "time_cond_proj_dim": nil,
		"addition_embed_type": nil, "addition_time_embed_dim": nil,
		"projection_class_embeddings_input_dim": nil,
	}
	if c.AdditionTimeEmbedDim > 0 {
		m["addition_embed_type"] = "text_time"
		m["addition_time_embed_dim"] = c.AdditionTimeEmbedDim
		m["projection_class_embeddings_input_dim"] = c.TextEmbedDim + 6*c.AdditionTimeEmbedDim
	}
	if c.TextTimeHeads > 0 {
		m["addition_embed_type"] = "text"
		m["addition_embed_type_num_heads"] = c.TextTimeHeads
	}
	if c.TimeCondProjDim > 0 {
		m["time_cond_proj_dim"] = c.TimeCondProjDim
	}
	if c.PositionEmbedding {
		// No diffusers key exists for it; the name says whose it is.
		m["imagegen_position_embedding"] = true
	}
	return m
}

func vaeConfigJSON(c VAEConfig) map[string]any {
	n := len(c.BlockOutChannels)
	down, up := make([]string, n), make([]string, n)
	for i := range n {
		down[i], up[i] = "DownEncoderBlock2D", "UpDecoderBlock2D"
	}
	return map[string]any{
		"_class_name": "AutoencoderKL", "in_channels": c.InChannels, "out_channels": c.OutChannels,
		"latent_channels": c.LatentChannels, "block_out_channels": c.BlockOutChannels,
		"down_block_types": down, "up_block_types": up, "layers_per_block": c.LayersPerBlock,
		"act_fn": "silu", "norm_num_groups": c.NormGroups, "sample_size": c.SampleSize,
		"scaling_factor": c.ScalingFactor, "shift_factor": nil, "force_upcast": true,
		"use_quant_conv": true, "use_post_quant_conv": true, "mid_block_add_attention": true,
	}
}

func schedulerConfigJSON() map[string]any {
	return map[string]any{
		"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
		"beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
		"set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
		"timestep_spacing": "leading", "clip_sample": false, "trained_betas": nil,
	}
}

func modelIndexJSON(cfg SDConfig) map[string]any {
	m := map[string]any{
		"_class_name": "StableDiffusionPipeline", "requires_safety_checker": false,
		"feature_extractor": []any{nil, nil}, "safety_checker": []any{nil, nil},
		"scheduler": []string{"diffusers", "PNDMScheduler"}, "text_encoder": []string{"transformers", "CLIPTextModel"},
		"tokenizer": []string{"transformers", "CLIPTokenizer"}, "unet": []string{"diffusers", "UNet2DConditionModel"},
		"vae": []string{"diffusers", "AutoencoderKL"},
	}
	if cfg.Text2.NumLayers > 0 {
		delete(m, "requires_safety_checker")
		delete(m, "feature_extractor")
		delete(m, "safety_checker")
		m["_class_name"] = "StableDiffusionXLPipeline"
		m["force_zeros_for_empty_prompt"] = true
		m["text_encoder_2"] = []string{"transformers", "CLIPTextModelWithProjection"}
		m["tokenizer_2"] = []string{"transformers", "CLIPTokenizer"}
	}
	return m
}

func tokenizerConfigJSON(c CLIPTextConfig) map[string]any {
	return map[string]any{
		"tokenizer_class": "CLIPTokenizer", "model_max_length": c.MaxPositionEmbeddings,
		"do_lower_case": true, "add_prefix_space": false, "errors": "replace",
		"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
		"pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
	}
}

func specialTokensJSON() map[string]any {
	return map[string]any{
		"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
		"pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
	}
}
