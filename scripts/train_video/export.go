package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// sharedComponents are the built-in image model's folders the video
// model uses unchanged.
var sharedComponents = []string{"text_encoder", "tokenizer", "vae_encoder", "vae_decoder"}

// defaultFrames is the clip length builtin:video makes without --frames
// (the length it trained on; the pipeline's AnimateDiff default of 8 fps
// applies); defaultSteps and defaultGuidance its sampling.
const (
	defaultFrames   = 8
	defaultSteps    = 25
	defaultGuidance = 3.0
)

// export writes the video model to o.out as an AnimateDiff-style Optimum
// folder: unet/ (the motion UNet with float16 weights: the image UNet's
// and the trained motion modules'), scheduler/ (the image model's DDPM
// schedule) and model_index.json (AnimateDiffPipeline, with the
// suggested settings). The text encoder, tokenizer and VAE are the
// built-in model's: package builtin serves them from the embedded image
// model, so they are only copied with -copy-base. out is replaced as a
// whole, through a temporary folder.
func export(o options, cfg onnxexport.UNetConfig, image, motion map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(o.out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	b := onnxexport.NewUNetMotionGraph(cfg, motionConfig(), 0)
	weights := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		if w, ok := motion[p.Name]; ok {
			weights[p.Name] = w
		} else if w, ok := image[p.Name]; ok {
			weights[p.Name] = w
		}
	}
	if err := b.LoadParams(weights); err != nil {
		return err
	}
	b.SetMetadata("imagegen.arch", "imagegen-shapes-video")
	b.SetMetadata("imagegen.component", "unet")
	b.SetMetadata("imagegen.trained_by", "scripts/train_video")
	m, err := b.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "unet"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(tmp, "unet", "model.onnx"), m); err != nil {
		return err
	}
	if err := writeUNetConfig(o.base, filepath.Join(tmp, "unet", "config.json")); err != nil {
		return err
	}
	copies := []string{"scheduler"}
	if o.copyBase {
		copies = append(copies, sharedComponents...)
	}
	for _, c := range copies {
		if err := os.CopyFS(filepath.Join(tmp, c), os.DirFS(filepath.Join(o.base, c))); err != nil {
			return err
		}
	}
	g := defaultGuidance
	idx := map[string]any{
		"_class_name":       "AnimateDiffPipeline",
		"text_encoder":      []string{"transformers", "CLIPTextModel"},
		"tokenizer":         []string{"transformers", "CLIPTokenizer"},
		"unet":              []string{"diffusers", "UNetMotionModel"},
		"vae":               []string{"diffusers", "AutoencoderKL"},
		"scheduler":         []string{"diffusers", "DDPMScheduler"},
		"motion_adapter":    []any{nil, nil},
		"feature_extractor": []any{nil, nil},
		"image_encoder":     []any{nil, nil},
		"imagegen_defaults": map[string]any{"scheduler": "DDPMScheduler", "steps": defaultSteps, "guidance": g, "height": imageSize, "width": imageSize},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	return os.Rename(tmp, o.out)
}

// writeUNetConfig writes the motion UNet's config.json: the image UNet's,
// as diffusers' UNetMotionModel, with the motion modules' settings and the
// clip length made without --frames (num_frames).
func writeUNetConfig(base, path string) error {
	raw, err := os.ReadFile(filepath.Join(base, "unet", "config.json"))
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	m := motionConfig()
	cfg["_class_name"] = "UNetMotionModel"
	cfg["motion_max_seq_length"] = m.MaxFrames
	cfg["motion_num_attention_heads"] = m.Heads
	cfg["motion_layers_per_block"] = 1
	cfg["motion_mid_block_layers_per_block"] = 1
	cfg["use_motion_mid_block"] = true
	cfg["imagegen_motion_text_dim"] = m.TextDim
	cfg["num_frames"] = defaultFrames
	return jsonfile.Write(path, cfg)
}
