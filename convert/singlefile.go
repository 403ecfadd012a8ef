package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/safetensors"
)

// SingleFileOptions configure FromSingleFile.
type SingleFileOptions struct {
	// TokenizerDir holds the CLIP tokenizer (vocab.json, merges.txt, and
	// optionally tokenizer_config.json and special_tokens_map.json): a
	// single file has none. Required.
	TokenizerDir string
	// Config is the architecture; nil reads SD 1.5's, with in_channels
	// from the file (4, or 9 for inpainting).
	Config *onnxexport.SDConfig
}

// FromSingleFile reads a single-file checkpoint in the original key
// layout (model.diffusion_model.…, first_stage_model.…,
// cond_stage_model.transformer.…): SD 1.x. Other layouts (SD 2.x's
// OpenCLIP, SDXL's conditioner) are refused with ErrUnsupported. Every
// tensor must find its place; keys left over are an error, so a file of
// another architecture is not half-converted.
func FromSingleFile(path string, opts SingleFileOptions) (*Checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	names := f.Names()
	f.Close()
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "conditioner.embedders."):
			return nil, fmt.Errorf("%w: %s is an SDXL checkpoint (conditioner.embedders keys); SD 1.x single files are converted", ErrUnsupported, path)
		case strings.HasPrefix(n, "cond_stage_model.model."):
			return nil, fmt.Errorf("%w: %s has an OpenCLIP text encoder (SD 2.x); SD 1.x single files are converted", ErrUnsupported, path)
		}
	}
	if opts.TokenizerDir == "" {
		return nil, fmt.Errorf("convert: %s: a single-file checkpoint holds no tokenizer: name a CLIP tokenizer folder (vocab.json, merges.txt)", path)
	}
	ck := &Checkpoint{Weights: map[string]map[string]*onnxexport.Tensor{}, Files: map[string][]byte{}}
	if opts.Config != nil {
		ck.Config = *opts.Config
	} else {
		ck.Config = onnxexport.SD15()
	}
	ck.Config.Name = "converted"
	unet, err := readStateDict(path, ldmUNet)
	if err != nil {
		return nil, err
	}
	vae, err := readStateDict(path, ldmVAE)
	if err != nil {
		return nil, err
	}
	text, err := readStateDict(path, ldmText)
	if err != nil {
		return nil, err
	}
	if w := unet["input_blocks.0.0.weight"]; w != nil && len(w.Shape) == 4 && opts.Config == nil {
		ck.Config.UNet.InChannels = w.Shape[1]
	}
	layout := newUNetLayout(ck.Config.UNet)
	var unknown []string
	rename := func(src map[string]*onnxexport.Tensor, fn func(string) (string, bool), prefix string) map[string]*onnxexport.Tensor {
		out := map[string]*onnxexport.Tensor{}
		for k, t := range src {
			d, ok := fn(k)
			if !ok {
				unknown = append(unknown, prefix+k)
				continue
			}
			out[d] = t
		}
		return out
	}
	ck.Weights["unet"] = rename(unet, layout.toDiffusers, ldmUNet)
	levels := len(ck.Config.VAE.BlockOutChannels)
	ck.Weights["vae"] = rename(vae, func(k string) (string, bool) { return vaeToDiffusers(k, levels) }, ldmVAE)
	for k, t := range ck.Weights["vae"] {
		if isVAEAttnProjection(k) && len(t.Shape) == 4 {
			t.Shape = t.Shape[:2] // a 1×1 convolution's kernel is the Linear weight
		}
	}
	ck.Weights["text_encoder"] = rename(text, func(k string) (string, bool) {
		if strings.HasSuffix(k, "position_ids") {
			return "", false
		}
		if !strings.HasPrefix(k, "text_model.") {
			k = "text_model." + k // transformers before 4.31 saved without it
		}
		return k, true
	}, ldmText)
	var rest []string
	for _, u := range unknown {
		if !strings.HasSuffix(u, "position_ids") {
			rest = append(rest, u)
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, ldmUNet) && !strings.HasPrefix(n, ldmVAE) && !strings.HasPrefix(n, ldmText) &&
			!strings.HasPrefix(n, "model_ema.") && n != "alphas_cumprod" && !isScheduleBuffer(n) {
			rest = append(rest, n)
		}
	}
	if len(rest) > 0 {
		sort.Strings(rest)
		if len(rest) > 8 {
			rest = append(rest[:8], fmt.Sprintf("... (%d in all)", len(rest)))
		}
		return nil, fmt.Errorf("%w: %s: keys with no place in an SD 1.x checkpoint: %s", ErrUnsupported, path, strings.Join(rest, ", "))
	}
	for _, name := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(opts.TokenizerDir, name))
		if err != nil {
			if os.IsNotExist(err) && (name == "tokenizer_config.json" || name == "special_tokens_map.json") {
				continue
			}
			return nil, fmt.Errorf("convert: tokenizer: %w", err)
		}
		ck.Files["tokenizer/"+name] = b
	}
	sched, _ := json.MarshalIndent(sd15Scheduler, "", "  ")
	ck.Files["scheduler/scheduler_config.json"] = sched
	return ck, nil
}

// isScheduleBuffer reports the diffusion schedule buffers LDM checkpoints
// store beside the weights (betas, alphas_cumprod, ...), which diffusers
// recomputes from the scheduler config.
func isScheduleBuffer(name string) bool {
	switch name {
	case "betas", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
		"log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
		"posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
		"model_ema.decay", "model_ema.num_updates", "logvar":
		return true
	}
	return false
}

// sd15Scheduler is the scheduler config SD 1.5's repository ships.
var sd15Scheduler = map[string]any{
	"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
	"num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
	"clip_sample": false, "prediction_type": "epsilon", "trained_betas": nil,
}

// ToSingleFile renames a diffusers checkpoint's weights to the original
// single-file key layout (the inverse of FromSingleFile's renaming), for
// writing such files and for checking that the two layouts map one to one.
func ToSingleFile(ck *Checkpoint) (map[string]*onnxexport.Tensor, error) {
	out := map[string]*onnxexport.Tensor{}
	layout := newUNetLayout(ck.Config.UNet)
	levels := len(ck.Config.VAE.BlockOutChannels)
	put := func(name string, t *onnxexport.Tensor) error {
		if _, dup := out[name]; dup {
			return fmt.Errorf("convert: two tensors map to %s", name)
		}
		out[name] = t
		return nil
	}
	for k, t := range ck.Weights["unet"] {
		d, ok := layout.toLDM(k)
		if !ok {
			return nil, fmt.Errorf("%w: UNet key %s has no single-file name", ErrUnsupported, k)
		}
		if err := put(ldmUNet+d, t); err != nil {
			return nil, err
		}
	}
	for k, t := range ck.Weights["vae"] {
		d, ok := vaeToLDM(k, levels)
		if !ok {
			return nil, fmt.Errorf("%w: VAE key %s has no single-file name", ErrUnsupported, k)
		}
		if isVAEAttnProjection(k) && len(t.Shape) == 2 {
			c := *t
			c.Shape = []int64{t.Shape[0], t.Shape[1], 1, 1}
			t = &c
		}
		if err := put(ldmVAE+d, t); err != nil {
			return nil, err
		}
	}
	for k, t := range ck.Weights["text_encoder"] {
		if err := put(ldmText+k, t); err != nil {
			return nil, err
		}
	}
	return out, nil
}
