package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// sharedComponents are builtin:default's folders the DiT runs with.
var sharedComponents = []string{"text_encoder", "tokenizer", "vae_encoder", "vae_decoder"}

// exportSpec is what a folder says about how to sample it.
type exportSpec struct {
	out      string
	steps    int
	guidance float64
	shift    float64
	trainer  string // imagegen.trained_by
	share    bool   // copy builtin:default's components in
}

// writeDenoiser writes the DiT as an ONNX file with float32 or float16
// weights.
func writeDenoiser(path string, cfg onnxexport.DiTConfig, w map[string]*onnxexport.Tensor, half bool) error {
	b := onnxexport.NewDiTGraph(cfg, 0)
	if err := b.LoadParams(w); err != nil {
		return err
	}
	b.SetMetadata("imagegen.component", "unet")
	b.SetMetadata("imagegen.trained_by", "scripts/train_dit")
	var opts []onnxexport.BuildOption
	if half {
		opts = append(opts, onnxexport.WithFloat16Weights())
	}
	m, err := b.Build(opts...)
	if err != nil {
		return err
	}
	return onnxexport.Save(path, m)
}

// export writes a checkpoint folder the latent-diffusion pipeline runs
// (replacing e.out, through a temporary folder): unet/ (the DiT, float16,
// with a UNet's inputs and outputs), scheduler/ (FlowMatchEulerDiscrete
// with the shift) and model_index.json (StableDiffusionPipeline, with
// imagegen_defaults). The text encoder, tokenizer and VAE are model's
// (builtin:default's); e.share copies them in.
func export(model string, e exportSpec, cfg onnxexport.DiTConfig, w map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(e.out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	for _, d := range []string{"unet", "scheduler"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	if err := writeDenoiser(filepath.Join(tmp, "unet", "model.onnx"), cfg, w, true); err != nil {
		return err
	}
	unetCfg := map[string]any{
		"_class_name": "ImagegenDiT2DModel", "in_channels": cfg.InChannels, "out_channels": cfg.InChannels,
		"sample_size": cfg.Size, "patch_size": cfg.Patch, "hidden_size": cfg.Hidden, "depth": cfg.Depth,
		"num_attention_heads": cfg.Heads, "cross_attention_dim": cfg.ContextDim,
		"imagegen_note": "DiT with adaLN-Zero blocks and cross-attention (onnx_export.DiTConfig), velocity of a rectified flow; UNet inputs and outputs",
	}
	if err := jsonfile.Write(filepath.Join(tmp, "unet", "config.json"), unetCfg); err != nil {
		return err
	}
	sched := map[string]any{
		"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": numTrainTimesteps,
		"shift": e.shift, "use_dynamic_shifting": false,
	}
	if err := jsonfile.Write(filepath.Join(tmp, "scheduler", "scheduler_config.json"), sched); err != nil {
		return err
	}
	idx, err := jsonfile.ReadMap(filepath.Join(model, "model_index.json"))
	if err != nil {
		return err
	}
	idx["scheduler"] = []string{"diffusers", "FlowMatchEulerDiscreteScheduler"}
	idx["unet"] = []string{"imagegen", "ImagegenDiT2DModel"}
	defaults, _ := idx["imagegen_defaults"].(map[string]any)
	if defaults == nil {
		defaults = map[string]any{}
	}
	// builtin:default's super-resolution cascade is its own choice: this
	// model draws the base size and declares no stage.
	if c, ok := idx["imagegen_cascade"].(map[string]any); ok {
		defaults["height"], defaults["width"] = c["height"], c["width"]
		delete(idx, "imagegen_cascade")
	}
	defaults["scheduler"], defaults["steps"], defaults["guidance"] = "FlowMatchEulerDiscreteScheduler", e.steps, e.guidance
	idx["imagegen_defaults"] = defaults
	// A velocity model is sampled by integrating its ODE; the DDPM-family
	// samplers would read its output as noise or v of another schedule.
	idx["imagegen_schedulers"] = []string{"FlowMatchEulerDiscreteScheduler"}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if e.share {
		for _, c := range sharedComponents {
			if err := os.CopyFS(filepath.Join(tmp, c), os.DirFS(filepath.Join(model, c))); err != nil {
				return fmt.Errorf("copy %s: %w", c, err)
			}
		}
	}
	if err := os.RemoveAll(e.out); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Rename(tmp, e.out)
}
