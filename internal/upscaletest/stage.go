package upscaletest

import (
	"encoding/json"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Stage is one random-weight diffusion super-resolution stage, in the
// folder layout of scripts/train_sr (upscale.StageClass).
type Stage struct {
	// LowRes is the input side, Scale the enlargement.
	LowRes, Scale int
	// Steps and NoiseLevel are the settings model_index.json suggests;
	// MaxNoiseLevel the largest level it accepts.
	Steps, NoiseLevel, MaxNoiseLevel int
}

// WriteStage writes the stage to the folder dir: a denoiser whose
// v-prediction is a random 3x3 convolution of the sample plus the
// nearest-neighbour enlargement of the input picture and a small multiple
// of the timestep and the noise level, a DDIM scheduler (v-prediction,
// trailing spacing, clipped) and model_index.json.
func WriteStage(dir string, cfg Stage, seed uint64) error {
	b := onnxexport.NewBuilder("unet")
	l := onnxexport.NewLayers(b, seed)
	n, hi := int64(cfg.LowRes), int64(cfg.LowRes*cfg.Scale)
	batch := onnxexport.Sym("batch_size")
	x := b.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(hi), onnxexport.D(hi))
	low := b.Input("image", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(n), onnxexport.D(n))
	t := b.Input("timestep", onnxexport.Float32, batch)
	level := b.Input("noise_level", onnxexport.Float32, batch)
	v := l.Conv2d("conv", x, 3, 3, onnxexport.Conv2dOptions{Padding: 1})
	v = b.Add(v, b.UpsampleNearest(low, int64(cfg.Scale)))
	cond := b.Mul(b.Add(t, level), b.ScalarLike(t, 1e-3))
	b.OutputAs("out_sample", b.Add(v, b.Unsqueeze(cond, 1, 2, 3)), batch, onnxexport.D(3), onnxexport.D(hi), onnxexport.D(hi))
	m, err := b.Build()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "unet"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(dir, "unet", "model.onnx"), m); err != nil {
		return err
	}
	files := map[string]any{
		"scheduler/scheduler_config.json": map[string]any{
			"_class_name": "DDIMScheduler", "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear",
			"num_train_timesteps": 1000, "prediction_type": "v_prediction", "timestep_spacing": "trailing",
			"set_alpha_to_one": true, "clip_sample": true, "clip_sample_range": 1.0,
		},
		"model_index.json": map[string]any{
			"_class_name": "ImagegenSuperResolutionPipeline",
			"unet":        []string{"imagegen", "ImagegenSuperResolutionUNet"}, "scheduler": []string{"diffusers", "DDIMScheduler"},
			"imagegen_super_resolution": map[string]any{"low_res_size": cfg.LowRes, "scale": cfg.Scale, "steps": cfg.Steps,
				"noise_level": cfg.NoiseLevel, "max_noise_level": cfg.MaxNoiseLevel},
		},
	}
	for name, v := range files {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
