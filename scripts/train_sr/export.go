package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// pipelineClass is the model_index.json _class_name of the stage; package
// upscale opens such a folder as a diffusion upscaler.
const pipelineClass = "ImagegenSuperResolutionPipeline"

// export writes the stage to o.out (replaced as a whole, through a
// temporary folder): unet/model.onnx with float16 weights, a DDIM
// scheduler on the training schedule (the -prediction type, trailing spacing, the
// predicted picture clipped to [-1, 1]) and model_index.json, whose
// imagegen_super_resolution object says the sizes and the suggested
// steps and augmentation level.
func export(o options, w map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(o.out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	unet := newSRGraph()
	if err := unet.LoadParams(w); err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	unet.SetMetadata("imagegen.arch", "imagegen-sr")
	unet.SetMetadata("imagegen.component", "unet")
	unet.SetMetadata("imagegen.trained_by", "scripts/train_sr")
	m, err := unet.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "unet"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(tmp, "unet", "model.onnx"), m); err != nil {
		return err
	}
	files := map[string]any{
		"unet/config.json": map[string]any{
			"_class_name": "ImagegenSuperResolutionUNet", "in_channels": 3, "out_channels": 3,
			"low_res_size": lowSize, "sample_size": highSize, "space_to_depth": factor,
			"width": width, "blocks": blocks, "embed_dim": embedDim, "prediction_type": o.prediction,
		},
		"scheduler/scheduler_config.json": map[string]any{
			"_class_name": "DDIMScheduler", "beta_start": betaStart, "beta_end": betaEnd,
			"beta_schedule": "linear", "num_train_timesteps": trainSteps, "prediction_type": o.prediction,
			"steps_offset": 0, "timestep_spacing": "trailing", "set_alpha_to_one": true,
			"clip_sample": true, "clip_sample_range": 1.0, "trained_betas": nil, "rescale_betas_zero_snr": false,
		},
		"model_index.json": map[string]any{
			"_class_name": pipelineClass, "_diffusers_version": "0.30.0",
			"unet": []string{"imagegen", "ImagegenSuperResolutionUNet"}, "scheduler": []string{"diffusers", "DDIMScheduler"},
			"imagegen_super_resolution": map[string]any{
				"low_res_size": lowSize, "scale": factor, "steps": o.defSteps,
				"noise_level": o.defLevel, "max_noise_level": o.maxLevel,
			},
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
