package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// export writes the model to o.out (replaced as a whole, through a
// temporary folder): with -share builtin:default's tokenizer and text
// encoder as they are (the shipped folder leaves them out: package builtin
// serves builtin:default's), the UNet and the classifier's gradient graph with the trained
// weights as float16 initializers, a DDPM scheduler on the training
// schedule (ε-prediction) and model_index.json with class
// ImagegenDDPMPipeline, which the pipeline runs as a diffusion model
// without a VAE: the sample is the picture.
func export(o options, den, cls map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(o.out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if o.share {
		for _, c := range []struct{ dir, file string }{
			{"text_encoder", "config.json"}, {"text_encoder", "model.onnx"},
			{"tokenizer", "vocab.json"}, {"tokenizer", "merges.txt"}, {"tokenizer", "tokenizer_config.json"}, {"tokenizer", "special_tokens_map.json"},
		} {
			if err := copyFile(filepath.Join(o.base, c.dir, c.file), filepath.Join(tmp, c.dir, c.file)); err != nil {
				return err
			}
		}
	}
	cfg := unetConfig()
	unet := newUNetGraph(cfg)
	if err := unet.LoadParams(den); err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	classifier, err := newClassifierGradGraph(cls)
	if err != nil {
		return fmt.Errorf("classifier: %w", err)
	}
	for name, b := range map[string]*onnxexport.Builder{"unet": unet, "classifier": classifier} {
		b.SetMetadata("imagegen.arch", "imagegen-ddpm")
		b.SetMetadata("imagegen.component", name)
		b.SetMetadata("imagegen.trained_by", "scripts/train_ddpm")
		m, err := b.Build(onnxexport.WithFloat16Weights())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, name), 0o755); err != nil {
			return err
		}
		if err := onnxexport.Save(filepath.Join(tmp, name, "model.onnx"), m); err != nil {
			return err
		}
	}
	var unetCfg map[string]any
	raw, err := os.ReadFile(filepath.Join(o.base, "unet", "config.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &unetCfg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(o.base, "unet", "config.json"), err)
	}
	// The body's config is builtin:default's; the graph around it takes
	// and gives pictures.
	unetCfg["in_channels"], unetCfg["out_channels"], unetCfg["sample_size"] = 3, 3, imageSize
	unetCfg["imagegen_space_to_depth"] = stem
	heads := make([]map[string]any, len(shapes.ShapeLabelHeads))
	for i, h := range shapes.ShapeLabelHeads {
		heads[i] = map[string]any{"name": h.Name, "classes": h.Classes}
	}
	files := map[string]any{
		"unet/config.json": unetCfg,
		"classifier/config.json": map[string]any{
			"_class_name": "ImagegenNoiseConditionalClassifier", "labels": "shapes.ShapeLabels", "label_size": shapes.ShapeLabelSize,
			"heads": heads, "output": "grad = d/d sample of sum over the batch of sum_k labels_k log p_k(sample, timestep)",
		},
		"scheduler/scheduler_config.json": map[string]any{
			"_class_name": "DDPMScheduler", "beta_start": betaStart, "beta_end": betaEnd,
			"beta_schedule": "linear", "num_train_timesteps": trainSteps, "prediction_type": "epsilon",
			"variance_type": "fixed_small", "steps_offset": 0, "timestep_spacing": "trailing",
			"clip_sample": true, "clip_sample_range": 1.0, "trained_betas": nil, "rescale_betas_zero_snr": false,
		},
		"model_index.json": map[string]any{
			"_class_name": "ImagegenDDPMPipeline", "_diffusers_version": "0.30.0",
			"text_encoder": []string{"transformers", "CLIPTextModel"}, "tokenizer": []string{"transformers", "CLIPTokenizer"},
			"unet": []string{"diffusers", "UNet2DConditionModel"}, "scheduler": []string{"diffusers", "DDPMScheduler"},
			"classifier":        []string{"imagegen", "NoiseConditionalClassifier"},
			"imagegen_defaults": map[string]any{"scheduler": o.defScheduler, "steps": o.defSteps, "guidance": o.defGuidance, "height": imageSize, "width": imageSize},
		},
	}
	for name, v := range files {
		if err := jsonfile.Write(filepath.Join(tmp, name), v); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	return os.Rename(tmp, o.out)
}

func copyFile(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, raw, 0o644)
}
