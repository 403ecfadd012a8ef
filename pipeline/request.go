package pipeline

import (
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/imagegen/imagegen/schedulers"
)

// Request is one Generate call. Zero values mean the diffusers default of
// the checkpoint's pipeline.
type Request struct {
	// Prompts holds one prompt per batch entry (at least one, may be "").
	Prompts []string
	// NegativePrompt applies to every prompt; "" is diffusers' default
	// (negative_prompt=None).
	NegativePrompt string
	// ExplicitNegative says an empty NegativePrompt was given on purpose
	// (negative_prompt=""): SDXL then encodes "" instead of using zeros
	// under force_zeros_for_empty_prompt, as diffusers does.
	ExplicitNegative bool
	// Prompt2 / NegativePrompt2 feed SDXL's second encoder and the T5
	// encoder of SD3 and Flux ("" = the same as Prompts / NegativePrompt).
	Prompt2         string
	NegativePrompt2 string

	// Scheduler is a diffusers class or friendly name ("" = the
	// checkpoint's); SchedulerOpts are key=value overrides.
	Scheduler     string
	SchedulerOpts []string

	Steps int // 0 = the family default (50 SD/SDXL, 28 SD3/Flux, 4 LCM)
	// Guidance is the classifier-free guidance scale (Flux: the distilled
	// guidance embedding); nil = the family default.
	Guidance        *float64
	GuidanceRescale float64
	Eta             float64
	Seed            uint64
	// Seeds, when set, holds one seed per prompt and gives each prompt's
	// pictures their own noise: entry i draws exactly what a run of
	// Prompts[i] alone with Seed = Seeds[i] would draw, so a server can
	// batch requests without changing their pictures. Text-to-image on
	// latent-diffusion checkpoints only; Seed is then unused.
	Seeds []uint64
	// Height and Width in pixels (0 = the checkpoint's default size); both
	// must be multiples of the VAE factor (and of 2× it for Flux).
	Height, Width int
	// NumImages per prompt (0 = 1).
	NumImages int
	// PromptSyntax says how prompt text is read: PromptLiteral ("", plain
	// text, as diffusers reads it) or PromptA1111 ("a1111": AUTOMATIC1111's
	// emphasis syntax, BREAK and chunked long prompts; SD and SDXL).
	PromptSyntax string
	// ClipSkip takes the CLIP encoders' hidden state ClipSkip-1 layers
	// before the one the pipeline uses (AUTOMATIC1111's "Clip skip";
	// diffusers' clip_skip is ClipSkip-1; 0 and 1 = off). SD 1.x/2.x (the
	// state then goes through the final layer norm), SDXL and SD3; the
	// export must have hidden_states.N outputs.
	ClipSkip int

	// Temperature scales the standard-normal latent a flow decodes
	// (ε ~ N(0, τ²I); 0 = the checkpoint's default). The flow family
	// only; it refuses a negative one.
	Temperature float64
	// MaxSequenceLength for the T5 encoder (0 = 256 for SD3, 512 for Flux).
	MaxSequenceLength int

	// InitImage turns the run into img2img (or inpainting with Mask);
	// Strength in (0, 1] picks how much of the schedule runs (0 = the
	// diffusers pipeline's default: img2img 0.8 SD, 0.3 SDXL, 0.6 SD3 and
	// Flux; inpainting 1.0).
	InitImage image.Image
	Mask      image.Image
	Strength  float64

	// Watermark names an invisible watermark applied to the decoded
	// pictures before post-processing: "" none, "sdxl" diffusers' SDXL
	// watermarker (invisible-watermark dwtDct with the 48-bit SDXL
	// payload; like diffusers it leaves pictures under 256 px wide
	// unmarked). Latent-diffusion families only.
	Watermark string

	// ClassifierScale is the scale s of ADM's classifier guidance (0: off):
	// each step's ε prediction moves by −s·√(1−ᾱ_t)·∇ log p(y | x_t), the
	// gradient of the checkpoint's noise-conditional classifier
	// (classifier/model.onnx) for the shapes the prompt names. Checkpoints
	// without a classifier, and a negative scale, are refused.
	ClassifierScale float64

	// Truncation is the GAN family's truncation ψ in (0, 1]: the noise z
	// is scaled by ψ toward its mean (0 = the default, 1: no truncation).
	// Other families refuse it.
	Truncation float64

	// Video checkpoints (FamilySVD, FamilyAnimateDiff; other families
	// refuse these fields). Frames is the clip length (0 = the UNet
	// config's num_frames, 14 without one for SVD, 16 for AnimateDiff).
	// FPS is the clip's frame rate (0 = 7 for SVD, 8 for AnimateDiff); SVD
	// is conditioned on FPS−1, as diffusers does. MotionBucket is SVD's
	// motion_bucket_id (nil = 127; higher, more motion) and NoiseAug its
	// noise_aug_strength, the noise added to the init frame (nil = 0.02).
	// MinGuidance is SVD's guidance on the first frame, rising linearly to
	// Guidance (the max) on the last (nil = 1.0). DecodeChunk is how many
	// frames the VAE decodes per call, bounding its memory (0 = all of a
	// clip's frames for SVD, 16 for AnimateDiff). For SVD InitImage is the
	// first frame the clip starts from (required).
	Frames       int
	FPS          float64
	MotionBucket *int
	NoiseAug     *float64
	MinGuidance  *float64
	DecodeChunk  int

	// Progress, when set, is called after every scheduler step (for the
	// autoregressive families, after every token).
	Progress func(StepInfo)
	// Preview, when set, receives a rough picture of the latents every
	// PreviewEvery steps (0 = 1) and after the last: a TAESD-style
	// decoder's (Options.PreviewDecoder) or a linear approximation.
	// Latent-diffusion families only.
	Preview      func(Preview)
	PreviewEvery int
	// Token sampling of the autoregressive families (vqgpt), reproducible
	// from Seed, with Temperature above: TopK keeps the k likeliest tokens
	// (0: all, negative is an error); TopP (nil: the model's) keeps the
	// smallest set of likeliest tokens whose probability reaches it, in
	// (0, 1].
	TopK int
	TopP *float64
	// PartialEvery > 0 with Partial set hands Partial the pictures decoded
	// from the tokens sampled so far, the rest blank, every PartialEvery
	// tokens (autoregressive families).
	PartialEvery int
	Partial      func(PartialPicture)
}

// PartialPicture is an autoregressive family's picture part-way: Tokens of
// Total tokens sampled, the rest of Result's pictures blank (mid grey).
type PartialPicture struct {
	Tokens, Total int
	Result        *Result
}

// WatermarkSDXL is Request.Watermark for diffusers' SDXL watermark.
const WatermarkSDXL = "sdxl"

// StepInfo reports one finished denoising step.
type StepInfo struct {
	Step, Total int
	Timestep    float64
	// Latents are the current latents (read-only, valid during the call).
	Latents []float32
}

// Result is what Generate returns.
type Result struct {
	// Images holds N images as float32 [N, H, W, 3] in [0, 1], exactly what
	// diffusers returns with output_type="np". For a video checkpoint
	// (Frames > 0) it holds N clips of Frames frames each, clip-major:
	// [N·Frames, H, W, 3].
	Images  []float32
	N, H, W int
	// Frames is the frames per clip of a video checkpoint (0 for
	// pictures), FPS their frame rate.
	Frames      int
	FPS         float64
	Latents     []float32 // final latents, before the VAE
	LatentShape []int64
	Timesteps   []float64 // the model timesteps that ran
	Scheduler   string    // the scheduler class used
	// SchedulerConfig is the resolved scheduler configuration.
	SchedulerConfig *schedulers.Config
	Steps           int
	Guidance        float64
	Strength        float64 // img2img / inpainting strength used (0 for text-to-image)
	Temperature     float64 // sampling temperature used (autoregressive families; 0 otherwise)
	Seed            uint64
	ModelFamily     Family
	DenoiserCalls   int
	Timings         Timings
	// Stage describes the checkpoint's super-resolution stage when one
	// enlarged the pictures (model_index.json's imagegen_cascade); nil
	// otherwise. Latents are then still the base picture's.
	Stage *StageInfo
}

// Timings splits a Generate call's wall time. Host is the denoising loop's
// own work (scheduler math, guidance, copies) without the denoiser runs.
type Timings struct {
	TextEncode time.Duration
	Denoiser   time.Duration // inside ONNX Runtime, all denoiser calls
	Host       time.Duration // denoising loop minus Denoiser
	VAE        time.Duration // init-image encoding and final decoding
	Stage      time.Duration // a cascade's super-resolution stage
	Total      time.Duration
	// Steps holds each step's time inside the denoiser, in order, so a
	// benchmark can tell the first (warm-up) call from the steady state.
	Steps []time.Duration
}

// Sentinel errors for bad requests, returned (wrapped) by Generate.
var (
	ErrBadRequest = errors.New("pipeline: bad request")
	ErrNaN        = errors.New("pipeline: latents became NaN")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// hidden returns hk moved back by the request's clip skip.
func (q *resolved) hidden(hk hiddenKind) hiddenKind {
	return hk.skipped(max(0, q.ClipSkip-1))
}

// resolved holds a request with defaults filled in.
type resolved struct {
	Request
	guidance float64
	batch    int // prompts × images per prompt
	lcm      bool
}

func (p *diffusionPipeline) resolve(r Request) (*resolved, error) {
	q := &resolved{Request: r}
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	if r.NumImages < 0 {
		return nil, badRequest("number of images must be positive, got %d", r.NumImages)
	}
	if q.NumImages == 0 {
		q.NumImages = 1
	}
	q.batch = len(r.Prompts) * q.NumImages
	q.lcm = p.den.TimeCondProjDim != nil
	switch r.PromptSyntax {
	case PromptLiteral:
	case PromptA1111:
		if p.family != FamilySD && p.family != FamilySDXL {
			return nil, badRequest("prompt syntax %q applies to SD and SDXL checkpoints, not %s", r.PromptSyntax, p.family)
		}
	default:
		return nil, badRequest("unknown prompt syntax %q (want %q or %q)", r.PromptSyntax, PromptLiteral, PromptA1111)
	}
	if r.ClipSkip < 0 || (r.ClipSkip > 1 && p.family == FamilyFlux) {
		return nil, badRequest("clip skip %d: want 1 or more, on SD, SDXL or SD3 checkpoints", r.ClipSkip)
	}
	if q.Steps < 0 {
		return nil, badRequest("steps must be at least 1, got %d", r.Steps)
	}
	if q.Steps == 0 {
		switch {
		case q.lcm:
			q.Steps = 4
		case p.family == FamilySD3 || p.family == FamilyFlux:
			q.Steps = 28
		default:
			q.Steps = 50
		}
	}
	switch {
	case r.Guidance != nil:
		q.guidance = *r.Guidance
	case q.lcm:
		q.guidance = 8.5
	case p.family == FamilySDXL:
		q.guidance = 5
	case p.family == FamilySD3:
		q.guidance = 7
	case p.family == FamilyFlux:
		q.guidance = 3.5
	default:
		q.guidance = 7.5
	}
	if math.IsNaN(q.guidance) || math.IsInf(q.guidance, 0) {
		return nil, badRequest("guidance must be a finite number")
	}
	if r.GuidanceRescale < 0 || r.GuidanceRescale > 1 {
		return nil, badRequest("guidance rescale must be in [0, 1], got %g", r.GuidanceRescale)
	}
	if r.Eta < 0 {
		return nil, badRequest("eta must be non-negative, got %g", r.Eta)
	}
	if r.Truncation != 0 {
		return nil, badRequest("truncation is a GAN option; diffusion models have none")
	}
	dh, dw := p.defaultSize()
	if q.Height == 0 {
		q.Height = dh
	}
	if q.Width == 0 {
		q.Width = dw
	}
	mult := p.vaeScale
	if p.family == FamilyFlux {
		mult *= 2 // latents are packed into 2x2 patches
	} else if p.family == FamilySD3 && p.den.PatchSize > 1 {
		mult *= p.den.PatchSize
	}
	if q.Height <= 0 || q.Width <= 0 || q.Height%mult != 0 || q.Width%mult != 0 {
		return nil, badRequest("size %dx%d: width and height must be positive multiples of %d for this checkpoint", q.Width, q.Height, mult)
	}
	if q.Height*q.Width > 4096*4096 {
		return nil, badRequest("size %dx%d is too large", q.Width, q.Height)
	}
	if r.Watermark != "" && r.Watermark != WatermarkSDXL {
		return nil, badRequest("unknown watermark %q (known: %s)", r.Watermark, WatermarkSDXL)
	}
	if r.Mask != nil && r.InitImage == nil {
		return nil, badRequest("a mask needs an init image")
	}
	if len(r.Seeds) > 0 && len(r.Seeds) != len(r.Prompts) {
		return nil, badRequest("%d seeds for %d prompts: give one seed per prompt", len(r.Seeds), len(r.Prompts))
	}
	if len(r.Seeds) > 0 && r.InitImage != nil {
		return nil, badRequest("per-prompt seeds apply to text-to-image only")
	}
	if r.Strength < 0 || r.Strength > 1 || math.IsNaN(r.Strength) {
		return nil, badRequest("strength must be in (0, 1], got %g", r.Strength)
	}
	if r.InitImage == nil && r.Strength != 0 {
		return nil, badRequest("strength needs an init image")
	}
	if q.Strength == 0 && r.InitImage != nil {
		q.Strength = defaultStrength(p.family, r.Mask != nil)
	}
	switch p.family {
	case FamilySD, FamilyAnimateDiff:
		if r.Prompt2 != "" || r.NegativePrompt2 != "" {
			return nil, badRequest("this checkpoint has one text encoder; a second prompt needs SDXL, SD3 or Flux")
		}
	case FamilySD3, FamilyFlux:
		if q.MaxSequenceLength < 0 || q.MaxSequenceLength > 512 {
			return nil, badRequest("max sequence length must be in 1..512, got %d", q.MaxSequenceLength)
		}
		if q.MaxSequenceLength == 0 {
			q.MaxSequenceLength = 256
			if p.family == FamilyFlux {
				q.MaxSequenceLength = 512
			}
		}
	}
	if p.family != FamilySD3 && p.family != FamilyFlux && r.MaxSequenceLength != 0 {
		return nil, badRequest("max sequence length applies to T5 encoders (SD3, Flux) only")
	}
	return q, nil
}

// cfg reports whether classifier-free guidance runs: guidance above 1 on a
// model without a guidance embedding (LCM and Flux embed it instead).
func (q *resolved) cfg(p *diffusionPipeline) bool {
	return q.guidance > 1 && !q.lcm && p.family != FamilyFlux
}

// defaultStrength is the strength diffusers' img2img and inpainting
// pipelines use when none is given.
func defaultStrength(f Family, inpaint bool) float64 {
	switch {
	case inpaint:
		return 1
	case f == FamilySDXL:
		return 0.3
	case f == FamilySD3 || f == FamilyFlux:
		return 0.6
	}
	return 0.8
}
