package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imagegen/imagegen/upscale"
)

// Family is the kind of pipeline a checkpoint needs.
type Family string

// Families this package runs.
const (
	FamilySD    Family = "sd"    // Stable Diffusion 1.x / 2.x (and LCM, Turbo)
	FamilySDXL  Family = "sdxl"  // Stable Diffusion XL
	FamilySD3   Family = "sd3"   // Stable Diffusion 3 (rectified flow, MMDiT)
	FamilyFlux  Family = "flux"  // Flux (rectified flow, guidance-distilled)
	FamilyVAE   Family = "vae"   // imagegen's conditional VAE (ImagegenVAEPipeline)
	FamilyVQVAE Family = "vqvae" // imagegen's VQ-VAE image tokenizer (ImagegenVQVAEPipeline)
	FamilyGAN   Family = "gan"   // imagegen's conditional GAN generator (ImagegenGANPipeline)
	FamilyFlow  Family = "flow"  // imagegen's conditional normalizing flow (ImagegenFlowPipeline)
	FamilyVQGPT Family = "vqgpt" // imagegen's transformer over VQ-VAE codes (ImagegenVQGPTPipeline)
	// FamilyPixelCNN is imagegen's conditional gated PixelCNN
	// (ImagegenPixelCNNPipeline).
	FamilyPixelCNN Family = "pixelcnn"
	// FamilySVD is Stable Video Diffusion: image-to-video from a first
	// frame (StableVideoDiffusionPipeline).
	FamilySVD Family = "svd"
	// FamilyAnimateDiff is AnimateDiff: text-to-video with SD 1.x's text
	// encoder and VAE around a motion UNet (AnimateDiffPipeline).
	FamilyAnimateDiff Family = "animatediff"
)

// familyLoaders opens each family's checkpoints: the room of each family
// (sd_*.go for the latent-diffusion families, family_vae.go, ...).
var familyLoaders = map[Family]func(ctx context.Context, dir string, fam Family, idx *modelIndex, opts Options) (familyPipeline, error){
	FamilySD:    loadDiffusion,
	FamilySDXL:  loadDiffusion,
	FamilySD3:   loadDiffusion,
	FamilyFlux:  loadDiffusion,
	FamilyVAE:   loadVAE,
	FamilyVQVAE: loadVQVAE,
	FamilyGAN:   loadGAN,
	FamilyFlow:  loadFlow,
	FamilyVQGPT: loadVQGPT,

	FamilyPixelCNN: loadPixelCNN,

	FamilySVD:         loadVideo,
	FamilyAnimateDiff: loadVideo,
}

// pipelineClasses maps model_index.json's _class_name to a family:
// diffusers' and Optimum's class names, and imagegen's own families.
var pipelineClasses = map[string]Family{
	"StableDiffusionPipeline": FamilySD, "StableDiffusionImg2ImgPipeline": FamilySD, "StableDiffusionInpaintPipeline": FamilySD,
	"OnnxStableDiffusionPipeline": FamilySD, "ORTStableDiffusionPipeline": FamilySD, "LatentConsistencyModelPipeline": FamilySD,
	"ORTLatentConsistencyModelPipeline": FamilySD, "OnnxStableDiffusionInpaintPipeline": FamilySD, "StableDiffusionUpscalePipeline": FamilySD,

	"StableDiffusionXLPipeline": FamilySDXL, "StableDiffusionXLImg2ImgPipeline": FamilySDXL, "StableDiffusionXLInpaintPipeline": FamilySDXL,
	"ORTStableDiffusionXLPipeline": FamilySDXL, "ORTStableDiffusionXLImg2ImgPipeline": FamilySDXL,

	"StableDiffusion3Pipeline": FamilySD3, "StableDiffusion3Img2ImgPipeline": FamilySD3, "StableDiffusion3InpaintPipeline": FamilySD3,
	"ORTStableDiffusion3Pipeline": FamilySD3,

	"FluxPipeline": FamilyFlux, "FluxImg2ImgPipeline": FamilyFlux, "FluxInpaintPipeline": FamilyFlux, "ORTFluxPipeline": FamilyFlux,

	"ImagegenVAEPipeline":   FamilyVAE,
	"ImagegenVQVAEPipeline": FamilyVQVAE,
	"ImagegenGANPipeline":   FamilyGAN,
	"ImagegenFlowPipeline":  FamilyFlow,
	"ImagegenVQGPTPipeline": FamilyVQGPT,

	"ImagegenPixelCNNPipeline": FamilyPixelCNN,

	"StableVideoDiffusionPipeline": FamilySVD,
	"AnimateDiffPipeline":          FamilyAnimateDiff,

	"ImagegenDDPMPipeline": FamilySD,
}

// pixelSpaceClasses are the _class_name values whose checkpoints the
// latent-diffusion pipeline runs without a VAE: the denoiser's sample is
// the picture in [-1, 1] (as in diffusers' DDPMPipeline), text encoders
// and schedulers as for Stable Diffusion.
var pixelSpaceClasses = map[string]bool{"ImagegenDDPMPipeline": true}

// KnownClasses returns the model_index.json _class_name values Load
// recognizes, sorted.
func KnownClasses() []string {
	names := make([]string, 0, len(pipelineClasses))
	for n := range pipelineClasses {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// modelIndex is model_index.json: the pipeline class and its components.
type modelIndex struct {
	ClassName                string   `json:"_class_name"`
	ForceZerosForEmptyPrompt *bool    `json:"force_zeros_for_empty_prompt"`
	RequiresAestheticsScore  bool     `json:"requires_aesthetics_score"`
	Defaults                 Defaults `json:"imagegen_defaults"`
	Cascade                  *Cascade `json:"imagegen_cascade"`
	// Schedulers, when set, are the only scheduler classes the denoiser
	// was trained or distilled for (imagegen's own key): a distilled
	// model (builtin:lcm, builtin:dit-1step) run by another sampler draws
	// a wrong picture without an error, so the pipeline refuses it.
	Schedulers []string `json:"imagegen_schedulers"`
	raw        map[string]json.RawMessage
}

// detectFamily reads model_index.json (when present) and the component
// folders to decide which pipeline runs the checkpoint.
func detectFamily(dir string) (Family, *modelIndex, error) {
	idx := &modelIndex{}
	path := filepath.Join(dir, "model_index.json")
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, idx); err != nil {
			return "", nil, fmt.Errorf("pipeline: %s: %w", path, err)
		}
		json.Unmarshal(b, &idx.raw)
	} else if !os.IsNotExist(err) {
		return "", nil, fmt.Errorf("pipeline: %w", err)
	}
	if fam, ok := pipelineClasses[idx.ClassName]; ok {
		return fam, idx, nil
	}
	if idx.ClassName == upscale.StageClass {
		return "", nil, fmt.Errorf("%w: %s is a super-resolution stage (%s), which enlarges pictures: run it with imagegen upscale (package upscale) or name it in a checkpoint's imagegen_cascade", ErrNotCheckpoint, dir, idx.ClassName)
	}
	// No (or an unknown) model_index.json: decide from the denoiser, so
	// variants of the diffusers classes (ControlNet, ...) and exports
	// without model_index.json still run.
	if fam, ok, err := familyFromDenoiser(dir); err != nil {
		return "", nil, err
	} else if ok {
		return fam, idx, nil
	}
	if idx.ClassName != "" {
		return "", nil, fmt.Errorf("%w: %s: unknown pipeline class %q in model_index.json (known: %s)",
			ErrNotCheckpoint, path, idx.ClassName, strings.Join(KnownClasses(), ", "))
	}
	return "", nil, fmt.Errorf("%w: %s has no model_index.json and no unet/model.onnx or transformer/model.onnx", ErrNotCheckpoint, dir)
}

// readJSON decodes a component's config.json; a missing file yields the
// zero config.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("pipeline: %s: %w", path, err)
	}
	return nil
}

// vaeConfig holds the AutoencoderKL config keys the pipeline uses.
type vaeConfig struct {
	ScalingFactor    float64   `json:"scaling_factor"`
	ShiftFactor      *float64  `json:"shift_factor"`
	BlockOutChannels []int     `json:"block_out_channels"`
	LatentChannels   int       `json:"latent_channels"`
	LatentsMean      []float64 `json:"latents_mean"`
	LatentsStd       []float64 `json:"latents_std"`
}

// denoiserConfig holds the UNet / transformer config keys the pipeline
// uses.
type denoiserConfig struct {
	ClassName            string  `json:"_class_name"`
	InChannels           int     `json:"in_channels"`
	OutChannels          *int    `json:"out_channels"`
	SampleSize           any     `json:"sample_size"`
	TimeCondProjDim      *int    `json:"time_cond_proj_dim"`
	GuidanceEmbeds       bool    `json:"guidance_embeds"`
	PatchSize            int     `json:"patch_size"`
	JointAttentionDim    int     `json:"joint_attention_dim"`
	PooledProjectionDim  int     `json:"pooled_projection_dim"`
	AdditionEmbedType    *string `json:"addition_embed_type"`
	AdditionTimeEmbedDim *int    `json:"addition_time_embed_dim"`
	// NumFrames is a video UNet's clip length (SVD); MotionMaxSeqLength
	// the most frames an AnimateDiff motion module takes.
	NumFrames          int `json:"num_frames"`
	MotionMaxSeqLength int `json:"motion_max_seq_length"`
}

// sampleSize returns the config's sample_size (an int or [h, w]).
func (c *denoiserConfig) sampleSize() (h, w int) {
	switch v := c.SampleSize.(type) {
	case float64:
		return int(v), int(v)
	case []any:
		if len(v) == 2 {
			a, _ := v[0].(float64)
			b, _ := v[1].(float64)
			return int(a), int(b)
		}
	}
	return 0, 0
}
