package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// Tokenizer2Dir is SDXL's second tokenizer (a diffusers repository's
	// tokenizer_2, which pads with "!"); empty uses TokenizerDir.
	Tokenizer2Dir string
	// Config is the architecture; nil reads it off the file's shapes
	// (SD 1.x: SD 1.5's, with in_channels from the file).
	Config *onnxexport.SDConfig
	// PredictionType overrides the guessed schedule target ("epsilon",
	// "v_prediction"): SD 2.x files are taken as v-prediction (768-v, as
	// diffusers does for files without a global step), SDXL and SD 1.x as
	// epsilon unless the file holds a "v_pred" key.
	PredictionType string
}

// Family names the single-file layouts FromSingleFile reads.
type Family string

// The single-file families, told apart by their text encoders' keys.
const (
	FamilySD1  Family = "sd1"  // cond_stage_model.transformer.… (CLIP ViT-L, transformers' names)
	FamilySD2  Family = "sd2"  // cond_stage_model.model.… (OpenCLIP ViT-H)
	FamilySDXL Family = "sdxl" // conditioner.embedders.0.transformer.… (CLIP-L) and .1.model.… (OpenCLIP bigG)
)

// Prefixes of the text encoders in SD 2.x and SDXL single files.
const (
	ldmOpenCLIP = "cond_stage_model.model."
	xlText1     = "conditioner.embedders.0.transformer."
	xlText2     = "conditioner.embedders.1.model."
)

// DetectFamily tells a single file's family from its key names; an SDXL
// refiner (one OpenCLIP embedder) and keys of no known layout are
// ErrUnsupported.
func DetectFamily(names []string) (Family, error) {
	has := func(prefix string) bool {
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case has(xlText2) && has(xlText1):
		return FamilySDXL, nil
	case has("conditioner.embedders."):
		return "", fmt.Errorf("%w: conditioner.embedders without CLIP-L and OpenCLIP bigG (an SDXL refiner?); SD 1.x, 2.x and SDXL base files are converted", ErrUnsupported)
	case has(ldmOpenCLIP):
		return FamilySD2, nil
	case has(ldmUNet):
		return FamilySD1, nil
	}
	return "", fmt.Errorf("%w: no model.diffusion_model keys: not a Stable Diffusion single file", ErrUnsupported)
}

// FromSingleFile reads a single-file checkpoint in the original
// (CompVis / Stability / AUTOMATIC1111) key layout: SD 1.x
// (cond_stage_model.transformer.…), SD 2.x (OpenCLIP ViT-H under
// cond_stage_model.model.…) or SDXL base (conditioner.embedders.0/1).
// Every tensor must find its place; keys left over are an error, so a file
// of another architecture is not half-converted. SD 2.x's last OpenCLIP
// layer and text_projection are dropped, as diffusers does: SD 2.x
// conditions on the penultimate layer.
func FromSingleFile(path string, opts SingleFileOptions) (*Checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	names := f.Names()
	f.Close()
	family, err := DetectFamily(names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.TokenizerDir == "" {
		return nil, fmt.Errorf("convert: %s: a single-file checkpoint holds no tokenizer: name a CLIP tokenizer folder (vocab.json, merges.txt)", path)
	}
	ck := &Checkpoint{Weights: map[string]map[string]*onnxexport.Tensor{}, Files: map[string][]byte{}}
	unet, err := readStateDict(path, ldmUNet)
	if err != nil {
		return nil, err
	}
	vae, err := readStateDict(path, ldmVAE)
	if err != nil {
		return nil, err
	}
	var unknown, prefixes []string
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
	hfText := func(k string) (string, bool) {
		if strings.HasSuffix(k, "position_ids") {
			return "", false
		}
		if !strings.HasPrefix(k, "text_model.") {
			k = "text_model." + k // transformers before 4.31 saved without it
		}
		return k, true
	}
	switch family {
	case FamilySD1:
		text, err := readStateDict(path, ldmText)
		if err != nil {
			return nil, err
		}
		ck.Weights["text_encoder"] = rename(text, hfText, ldmText)
		prefixes = []string{ldmText}
		ck.Config = onnxexport.SD15()
		if w := unet["input_blocks.0.0.weight"]; w != nil && len(w.Shape) == 4 {
			ck.Config.UNet.InChannels = w.Shape[1]
		}
	case FamilySD2:
		prefixes = []string{ldmOpenCLIP}
		if ck.Weights["text_encoder"], err = readOpenCLIP(path, ldmOpenCLIP, false, &unknown); err != nil {
			return nil, err
		}
		if ck.Config, err = inferConfig(unet, vae, 0.18215, ck.Weights["text_encoder"], "gelu", nil); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ck.Config.UNet.SampleSize = 96 // 768-pixel pictures, with v-prediction
	case FamilySDXL:
		prefixes = []string{xlText1, xlText2}
		text, err := readStateDict(path, xlText1)
		if err != nil {
			return nil, err
		}
		ck.Weights["text_encoder"] = rename(text, hfText, xlText1)
		if ck.Weights["text_encoder_2"], err = readOpenCLIP(path, xlText2, true, &unknown); err != nil {
			return nil, err
		}
		if ck.Config, err = inferConfig(unet, vae, 0.13025, ck.Weights["text_encoder"], "quick_gelu", ck.Weights["text_encoder_2"]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if opts.Config != nil {
		ck.Config = *opts.Config
	}
	ck.Config.Name = "converted"
	layout := newUNetLayout(ck.Config.UNet)
	ck.Weights["unet"] = rename(unet, layout.toDiffusers, ldmUNet)
	levels := len(ck.Config.VAE.BlockOutChannels)
	ck.Weights["vae"] = rename(vae, func(k string) (string, bool) { return vaeToDiffusers(k, levels) }, ldmVAE)
	for k, t := range ck.Weights["vae"] {
		if isVAEAttnProjection(k) && len(t.Shape) == 4 {
			t.Shape = t.Shape[:2] // a 1×1 convolution's kernel is the Linear weight
		}
	}
	if rest := leftoverKeys(names, prefixes, unknown); len(rest) > 0 {
		return nil, fmt.Errorf("%w: %s: keys with no place in an %s checkpoint: %s", ErrUnsupported, path, family, strings.Join(rest, ", "))
	}
	if err := copyTokenizer(ck, "tokenizer", opts.TokenizerDir); err != nil {
		return nil, err
	}
	if family == FamilySDXL {
		dir := opts.Tokenizer2Dir
		if dir == "" {
			dir = opts.TokenizerDir
		}
		if err := copyTokenizer(ck, "tokenizer_2", dir); err != nil {
			return nil, err
		}
	}
	prediction := opts.PredictionType
	if prediction == "" {
		prediction = "epsilon"
		if family == FamilySD2 || slices.Contains(names, "v_pred") {
			prediction = "v_prediction"
		}
	}
	if family == FamilySD2 && prediction == "epsilon" && opts.Config == nil {
		ck.Config.UNet.SampleSize = 64 // SD 2 base draws 512-pixel pictures
	}
	sched, _ := json.MarshalIndent(schedulerFor(family, prediction), "", "  ")
	ck.Files["scheduler/scheduler_config.json"] = sched
	return ck, nil
}

// leftoverKeys lists (at most 8 of) the file's keys that found no place:
// the unknown ones under a component's prefix, and those under none.
// position_ids, EMA copies and the diffusion schedule's buffers are no
// weights and are skipped; v_pred marks a v-prediction SDXL file.
func leftoverKeys(names, prefixes, unknown []string) []string {
	var rest []string
	for _, u := range unknown {
		if !strings.HasSuffix(u, "position_ids") {
			rest = append(rest, u)
		}
	}
	for _, n := range names {
		known := strings.HasPrefix(n, ldmUNet) || strings.HasPrefix(n, ldmVAE) || strings.HasPrefix(n, "model_ema.") ||
			n == "alphas_cumprod" || n == "v_pred" || isScheduleBuffer(n)
		for _, p := range prefixes {
			known = known || strings.HasPrefix(n, p)
		}
		if !known {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	if len(rest) > 8 {
		rest = append(rest[:8], fmt.Sprintf("... (%d in all)", len(rest)))
	}
	return rest
}

// readOpenCLIP reads an OpenCLIP text tower under prefix in transformers'
// names; SD 2.x (projection false) drops the last layer.
func readOpenCLIP(path, prefix string, projection bool, unknown *[]string) (map[string]*onnxexport.Tensor, error) {
	src, err := readStateDict(path, prefix)
	if err != nil {
		return nil, err
	}
	layers := openCLIPLayers(src)
	if !projection {
		layers--
	}
	out, _, unk, err := openCLIPToCLIP(src, layers, projection)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, u := range unk {
		*unknown = append(*unknown, prefix+u)
	}
	return out, nil
}

// inferConfig reads an SD 2.x or SDXL architecture off the weights; text2
// is SDXL's second encoder (nil for SD 2.x).
func inferConfig(unet, vae map[string]*onnxexport.Tensor, scaling float64, text map[string]*onnxexport.Tensor, act string, text2 map[string]*onnxexport.Tensor) (onnxexport.SDConfig, error) {
	var c onnxexport.SDConfig
	var err error
	if c.UNet, err = inferUNetConfig(unet, 64); err != nil {
		return c, err
	}
	if c.VAE, err = inferVAEConfig(vae, scaling); err != nil {
		return c, err
	}
	if c.Text, err = inferCLIPConfig(text, act); err != nil {
		return c, err
	}
	if text2 == nil {
		return c, nil
	}
	c.Text.HiddenStates = true
	if c.Text2, err = inferCLIPConfig(text2, "gelu"); err != nil {
		return c, err
	}
	c.Text2.HiddenStates = true
	label := unet["label_emb.0.0.weight"]
	if c.Text2.ProjectionDim == 0 || label == nil || len(label.Shape) != 2 || (label.Shape[1]-c.Text2.ProjectionDim)%6 != 0 {
		return c, fmt.Errorf("%w: SDXL needs text_projection and label_emb (pooled text + 6 time ids)", ErrUnsupported)
	}
	c.UNet.TextEmbedDim = c.Text2.ProjectionDim
	c.UNet.AdditionTimeEmbedDim = (label.Shape[1] - c.Text2.ProjectionDim) / 6
	c.UNet.SampleSize = 128
	return c, c.UNet.Validate()
}

// copyTokenizer copies a tokenizer folder's files into ck under sub.
func copyTokenizer(ck *Checkpoint, sub, dir string) error {
	for _, name := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if os.IsNotExist(err) && (name == "tokenizer_config.json" || name == "special_tokens_map.json") {
				continue
			}
			return fmt.Errorf("convert: %s: %w", sub, err)
		}
		ck.Files[sub+"/"+name] = b
	}
	return nil
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

// schedulerFor is the scheduler config each family's repository ships
// (SD 1.5: PNDM, SD 2.1: DDIM, SDXL: Euler), with the prediction type.
func schedulerFor(family Family, prediction string) map[string]any {
	m := map[string]any{
		"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
		"num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
		"clip_sample": false, "prediction_type": prediction, "trained_betas": nil,
	}
	switch family {
	case FamilySD2:
		m["_class_name"] = "DDIMScheduler"
	case FamilySDXL:
		m["_class_name"] = "EulerDiscreteScheduler"
		m["timestep_spacing"] = "leading"
		m["interpolation_type"] = "linear"
		m["use_karras_sigmas"] = false
		delete(m, "skip_prk_steps")
		delete(m, "set_alpha_to_one")
	}
	return m
}

// ToSingleFile renames a diffusers checkpoint's weights to the original
// single-file key layout (the inverse of FromSingleFile's renaming), for
// writing such files and for checking that the two layouts map one to one.
// A checkpoint with text_encoder_2 is written as SDXL, one whose text
// encoder uses gelu (OpenCLIP) as SD 2.x, others as SD 1.x. An SD 2.x
// file written here holds the text layers the checkpoint has: the layer
// FromSingleFile dropped does not come back.
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
	texts := []struct {
		component, prefix string
		openCLIP          bool
	}{{"text_encoder", ldmText, false}}
	switch {
	case ck.Weights["text_encoder_2"] != nil:
		texts = []struct {
			component, prefix string
			openCLIP          bool
		}{{"text_encoder", xlText1, false}, {"text_encoder_2", xlText2, true}}
	case ck.Config.Text.HiddenAct == "gelu": // SD 1.x's CLIP ViT-L uses quick_gelu; OpenCLIP ViT-H gelu
		texts[0].prefix, texts[0].openCLIP = ldmOpenCLIP, true
	}
	for _, tx := range texts {
		sd := ck.Weights[tx.component]
		if tx.openCLIP {
			var err error
			if sd, err = clipToOpenCLIP(sd); err != nil {
				return nil, err
			}
		}
		for k, t := range sd {
			if err := put(tx.prefix+k, t); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
