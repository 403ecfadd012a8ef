// Command convert_bench writes a random-weight SD 1.5-size diffusers
// folder (float16 safetensors and configs), the input for timing
// `imagegen convert` at full size:
//
//	go run ./scripts/convert_bench -out /tmp/sd15-diffusers -tokenizer ../shared/.../tokenizer
//	/usr/bin/time -v imagegen convert /tmp/sd15-diffusers /tmp/sd15-onnx
//
// Components are built and written one at a time to bound memory.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/safetensors"
)

func main() {
	out := flag.String("out", "", "folder to write (must not exist)")
	tok := flag.String("tokenizer", "", "CLIP tokenizer folder to copy (vocab.json, merges.txt)")
	flag.Parse()
	if err := run(*out, *tok); err != nil {
		fmt.Fprintln(os.Stderr, "convert_bench:", err)
		os.Exit(1)
	}
}

func run(out, tok string) error {
	if out == "" || tok == "" {
		return fmt.Errorf("want -out and -tokenizer")
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists", out)
	}
	cfg := onnxexport.SD15()
	comps := []struct {
		dir, file string
		build     func() *onnxexport.Builder
		config    any
	}{
		{"unet", "diffusion_pytorch_model.safetensors", func() *onnxexport.Builder { return onnxexport.NewUNetGraph(cfg.UNet, 1) }, map[string]any{
			"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4, "sample_size": 64,
			"block_out_channels": cfg.UNet.BlockOutChannels, "down_block_types": cfg.UNet.DownBlockTypes, "up_block_types": cfg.UNet.UpBlockTypes,
			"layers_per_block": 2, "attention_head_dim": 8, "cross_attention_dim": 768, "norm_num_groups": 32, "norm_eps": 1e-5,
			"use_linear_projection": false, "flip_sin_to_cos": true, "freq_shift": 0}},
		{"vae", "diffusion_pytorch_model.safetensors", nil, map[string]any{
			"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
			"block_out_channels": cfg.VAE.BlockOutChannels, "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 512, "scaling_factor": 0.18215}},
		{"text_encoder", "model.safetensors", func() *onnxexport.Builder { return onnxexport.NewCLIPTextGraph(cfg.Text, 3) }, map[string]any{
			"architectures": []string{"CLIPTextModel"}, "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072,
			"num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
			"layer_norm_eps": 1e-5, "bos_token_id": 49406, "eos_token_id": 49407}},
	}
	for _, c := range comps {
		tensors := map[string]safetensors.Tensor{}
		builders := []*onnxexport.Builder{}
		if c.build != nil {
			builders = append(builders, c.build())
		} else {
			builders = append(builders, onnxexport.NewVAEEncoderGraph(cfg.VAE, 2), onnxexport.NewVAEDecoderGraph(cfg.VAE, 2))
		}
		for _, b := range builders {
			if err := b.Err(); err != nil {
				return err
			}
			for _, p := range b.Params() {
				tensors[p.Name] = safetensors.Tensor{Shape: p.Tensor.Shape, Data: p.Tensor.Float32, DType: safetensors.F16}
			}
		}
		dir := filepath.Join(out, c.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := safetensors.WriteFile(filepath.Join(dir, c.file), tensors, nil); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(c.config, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d tensors)\n", c.dir, len(tensors))
		builders, tensors = nil, nil
		runtime.GC()
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(tok, f))
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(out, "tokenizer"), 0o755)
		if err := os.WriteFile(filepath.Join(out, "tokenizer", f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
