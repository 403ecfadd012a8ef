package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// export writes the trained model to out in the Optimum layout:
// ExportOptimum lays out the folder and its config files, then every
// component's model.onnx is rebuilt with the trained weights (float16
// initializers), the learned tokenizer replaces the placeholder one and
// the scheduler becomes DDPM on the training schedule and prediction type
// (ancestral sampling scored better than DDIM with the briefly trained
// UNets). out is replaced as a whole, through a temporary folder.
func export(out string, cfg onnxexport.SDConfig, vae, den map[string]*onnxexport.Tensor, tokDir, prediction string) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := onnxexport.ExportOptimum(tmp, cfg, onnxexport.ExportOptions{Float16Weights: true}); err != nil {
		return err
	}
	components := []struct {
		name    string
		builder *onnxexport.Builder
		weights map[string]*onnxexport.Tensor
	}{
		{"text_encoder", onnxexport.NewCLIPTextGraph(cfg.Text, 0), den},
		{"unet", onnxexport.NewUNetGraph(cfg.UNet, 0), den},
		{"vae_encoder", onnxexport.NewVAEEncoderGraph(cfg.VAE, 0), vae},
		{"vae_decoder", onnxexport.NewVAEDecoderGraph(cfg.VAE, 0), vae},
	}
	for _, c := range components {
		if err := c.builder.LoadParams(c.weights); err != nil {
			return err
		}
		c.builder.SetMetadata("imagegen.arch", cfg.Name)
		c.builder.SetMetadata("imagegen.component", c.name)
		c.builder.SetMetadata("imagegen.trained_by", "scripts/train_default_model")
		m, err := c.builder.Build(onnxexport.WithFloat16Weights())
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := onnxexport.Save(filepath.Join(tmp, c.name, "model.onnx"), m); err != nil {
			return err
		}
	}
	for _, f := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		raw, err := os.ReadFile(filepath.Join(tokDir, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "tokenizer", f), raw, 0o644); err != nil {
			return err
		}
	}
	sched := map[string]any{
		"_class_name": "DDPMScheduler", "beta_start": betaStart, "beta_end": betaEnd,
		"beta_schedule": "linear", "num_train_timesteps": 1000, "prediction_type": prediction,
		"variance_type": "fixed_small", "steps_offset": 0, "timestep_spacing": "trailing",
		"clip_sample": false, "trained_betas": nil, "rescale_betas_zero_snr": false,
	}
	if err := jsonfile.Write(filepath.Join(tmp, "scheduler", "scheduler_config.json"), sched); err != nil {
		return err
	}
	idxPath := filepath.Join(tmp, "model_index.json")
	var idx map[string]any
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return err
	}
	idx["scheduler"] = []string{"diffusers", "DDPMScheduler"}
	// The settings that scored best with the shapes checker travel with
	// the folder (pipeline.Defaults), so the Go API and the CLI agree.
	// Without a size, requests get 128x128 pictures: the model draws
	// 32x32 and builtin:sr (scripts/train_sr) enlarges them
	// (pipeline.Cascade); an explicit 32x32 runs the model alone.
	idx["imagegen_defaults"] = map[string]any{"scheduler": "DDPMScheduler", "steps": 50, "guidance": 3, "height": cascadeSize, "width": cascadeSize}
	idx["imagegen_cascade"] = map[string]any{"stage": "builtin:sr", "height": imageSize, "width": imageSize}
	if err := jsonfile.Write(idxPath, idx); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
