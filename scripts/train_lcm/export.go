package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// sharedComponents are the teacher's folders the student runs with
// unchanged.
var sharedComponents = []string{"text_encoder", "tokenizer", "vae_encoder", "vae_decoder"}

// export writes the student to o.out (replaced, through a temporary
// folder): unet/ (float16 initializers, with the timestep_cond input and
// the teacher's config plus time_cond_proj_dim), scheduler/ (LCMScheduler
// on the teacher's schedule, original_inference_steps and
// timestep_scaling as distilled) and model_index.json (the teacher's, with
// LCMScheduler and imagegen_defaults of o.exportSteps steps at the
// distilled guidance). With o.share the teacher's text encoder, tokenizer
// and VAE are copied in.
func export(o options, cfg onnxexport.UNetConfig, w map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(o.out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "unet"), 0o755); err != nil {
		return err
	}
	b := onnxexport.NewUNetGraph(cfg, 0)
	if err := b.LoadParams(w); err != nil {
		return err
	}
	b.SetMetadata("imagegen.component", "unet")
	b.SetMetadata("imagegen.trained_by", "scripts/train_lcm")
	m, err := b.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(tmp, "unet", "model.onnx"), m); err != nil {
		return err
	}
	unetCfg, err := jsonfile.ReadMap(filepath.Join(o.teacher, "unet", "config.json"))
	if err != nil {
		return err
	}
	unetCfg["time_cond_proj_dim"] = cfg.TimeCondProjDim
	if err := jsonfile.Write(filepath.Join(tmp, "unet", "config.json"), unetCfg); err != nil {
		return err
	}
	sched, err := jsonfile.ReadMap(filepath.Join(o.teacher, "scheduler", "scheduler_config.json"))
	if err != nil {
		return err
	}
	for _, k := range []string{"variance_type", "steps_offset"} {
		delete(sched, k)
	}
	sched["_class_name"] = "LCMScheduler"
	sched["original_inference_steps"] = o.origSteps
	sched["timestep_scaling"] = lcmTimestepScaling
	sched["set_alpha_to_one"] = true
	sched["timestep_spacing"] = "leading"
	if err := os.MkdirAll(filepath.Join(tmp, "scheduler"), 0o755); err != nil {
		return err
	}
	if err := jsonfile.Write(filepath.Join(tmp, "scheduler", "scheduler_config.json"), sched); err != nil {
		return err
	}
	idx, err := jsonfile.ReadMap(filepath.Join(o.teacher, "model_index.json"))
	if err != nil {
		return err
	}
	idx["scheduler"] = []string{"diffusers", "LCMScheduler"}
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
	// The guidance an LCM UNet takes is the embedded one: the scale it was
	// distilled at (the middle of the range when it was sampled).
	defaults["scheduler"], defaults["steps"], defaults["guidance"] = "LCMScheduler", o.exportSteps, (o.wMin+o.wMax)/2
	idx["imagegen_defaults"] = defaults
	idx["imagegen_schedulers"] = []string{"LCMScheduler"} // the sampler it was distilled for
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if o.share {
		for _, c := range sharedComponents {
			if err := os.CopyFS(filepath.Join(tmp, c), os.DirFS(filepath.Join(o.teacher, c))); err != nil {
				return fmt.Errorf("copy %s: %w", c, err)
			}
		}
	}
	if err := os.RemoveAll(o.out); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Rename(tmp, o.out)
}
