package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/imagegen/imagegen/ort"
)

// The public ONNX layouts of the latent-diffusion families, beside
// Optimum's: TensorStack's and AMD's SD3.5 and Flux exports keep the
// transformer in unet/, store weights as model.onnx.data (Optimum writes
// model.onnx_data, CompVis' onnx branch weights.pb), ship float16-I/O
// variants, and some repositories hold several variants in subfolders
// (NAME_io16/, NAME_io32/). The functions here find what such a folder
// holds; the sessions convert float16 inputs and outputs themselves.

// denoiserFolder returns the folder of the checkpoint's denoiser:
// "transformer" for SD3 and Flux exports that have one, else "unet".
func denoiserFolder(dir string, fam Family) string {
	if fam == FamilySD3 || fam == FamilyFlux {
		if fileExists(filepath.Join(dir, "transformer", "model.onnx")) {
			return "transformer"
		}
	}
	return "unet"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkModelFiles checks that component/model.onnx and every external
// weight file its initializers name (read from the model itself, whatever
// the file is called) are present, so a partial download fails here with
// the missing file's name rather than inside ONNX Runtime.
func checkModelFiles(dir, component string) error {
	path := filepath.Join(dir, component, "model.onnx")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %s: missing component %s (%s)", ErrNotCheckpoint, dir, component, path)
	}
	sum, err := ort.ScanModel(path)
	if err != nil {
		return fmt.Errorf("pipeline: load %s: %w", component, err)
	}
	for _, loc := range sum.ExternalData {
		clean := filepath.Clean(filepath.FromSlash(loc))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%w: %s: external data location %q leaves the model's folder", ErrNotCheckpoint, path, loc)
		}
		if !fileExists(filepath.Join(dir, component, clean)) {
			return fmt.Errorf("%w: %s keeps its weights in %s, which is missing beside it (an incomplete download?)",
				ErrNotCheckpoint, path, loc)
		}
	}
	return nil
}

// familyFromDenoiser decides the family of a checkpoint without a known
// model_index.json class from its denoiser: the config's _class_name when
// there is one, else the inputs the ONNX graph declares (Flux takes img_ids,
// SD3 pooled_projections, SDXL text_embeds). ok is false when dir has no
// denoiser.
func familyFromDenoiser(dir string) (fam Family, ok bool, err error) {
	folder := "unet"
	if fileExists(filepath.Join(dir, "transformer", "model.onnx")) {
		folder = "transformer"
	} else if !fileExists(filepath.Join(dir, "unet", "model.onnx")) {
		return "", false, nil
	}
	var cfg denoiserConfig
	if err := readJSON(filepath.Join(dir, folder, "config.json"), &cfg); err != nil {
		return "", false, err
	}
	switch cfg.ClassName {
	case "FluxTransformer2DModel":
		return FamilyFlux, true, nil
	case "SD3Transformer2DModel":
		return FamilySD3, true, nil
	}
	in, _, err := ort.ReadModelInfo(filepath.Join(dir, folder, "model.onnx"))
	if err != nil {
		return "", false, fmt.Errorf("pipeline: %w", err)
	}
	has := func(name string) bool {
		return slices.ContainsFunc(in, func(i ort.IOInfo) bool { return i.Name == name })
	}
	switch {
	case has("img_ids"):
		return FamilyFlux, true, nil
	case has("pooled_projections"):
		return FamilySD3, true, nil
	case has("text_embeds") || fileExists(filepath.Join(dir, "text_encoder_2", "model.onnx")):
		return FamilySDXL, true, nil
	}
	return FamilySD, true, nil
}

// isCheckpoint reports whether dir looks like a checkpoint folder itself.
func isCheckpoint(dir string) bool {
	for _, p := range []string{"model_index.json", "unet/model.onnx", "transformer/model.onnx"} {
		if fileExists(filepath.Join(dir, p)) {
			return true
		}
	}
	return false
}

// chooseVariant resolves a folder that holds checkpoint variants in
// subfolders instead of one checkpoint: with one variant it is that one;
// among several, the one whose name ends in _io32 (float32 inputs and
// outputs, the host's own precision). Any other mix is an error listing
// the variants, so the caller names one. A checkpoint folder is returned
// as is.
func chooseVariant(dir string) (string, error) {
	if isCheckpoint(dir) {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("pipeline: %w", err)
	}
	var variants []string
	for _, e := range entries {
		if e.IsDir() && isCheckpoint(filepath.Join(dir, e.Name())) {
			variants = append(variants, e.Name())
		}
	}
	sort.Strings(variants)
	switch {
	case len(variants) == 0:
		return dir, nil // detectFamily explains what is missing
	case len(variants) == 1:
		return filepath.Join(dir, variants[0]), nil
	}
	var io32 []string
	for _, v := range variants {
		if strings.HasSuffix(strings.ToLower(v), "_io32") {
			io32 = append(io32, v)
		}
	}
	if len(io32) == 1 {
		return filepath.Join(dir, io32[0]), nil
	}
	return "", fmt.Errorf("%w: %s holds several checkpoint variants (%s); pass the folder of one",
		ErrNotCheckpoint, dir, strings.Join(variants, ", "))
}

// fillFamilyDefaults supplies, for a VAE shipped without config.json (as
// some public exports are), the scaling of its family's released VAE.
func (c *vaeConfig) fillFamilyDefaults(fam Family, hasConfig bool) {
	if c.ScalingFactor != 0 {
		return
	}
	c.ScalingFactor = 0.18215 // diffusers' AutoencoderKL default
	if hasConfig {
		return
	}
	shift := func(v float64) *float64 { return &v }
	switch fam {
	case FamilySDXL:
		c.ScalingFactor = 0.13025
	case FamilySD3:
		c.ScalingFactor, c.ShiftFactor, c.LatentChannels = 1.5305, shift(0.0609), 16
	case FamilyFlux:
		c.ScalingFactor, c.ShiftFactor, c.LatentChannels = 0.3611, shift(0.1159), 16
	}
}

// fillFromModel supplies, for a denoiser shipped without config.json, the
// config keys the pipeline needs from the shapes its graph declares.
func (c *denoiserConfig) fillFromModel(fam Family, in []ort.IOInfo) {
	dim := func(name string, k int) int {
		for _, i := range in {
			if i.Name == name && k < len(i.Shape) && i.Shape[k] > 0 {
				return int(i.Shape[k])
			}
		}
		return 0
	}
	last := func(name string) int {
		for _, i := range in {
			if i.Name == name && len(i.Shape) > 0 && i.Shape[len(i.Shape)-1] > 0 {
				return int(i.Shape[len(i.Shape)-1])
			}
		}
		return 0
	}
	switch fam {
	case FamilyFlux:
		c.InChannels = last("hidden_states")
	case FamilySVD: // sample is [B, F, C, h, w]
		c.InChannels = dim("sample", 2)
	case FamilySD3:
		c.InChannels = dim("hidden_states", 1)
		c.PatchSize = 2
		c.JointAttentionDim = last("encoder_hidden_states")
	default:
		c.InChannels = dim("sample", 1)
		if d := last("timestep_cond"); d > 0 {
			c.TimeCondProjDim = &d
		}
	}
}
