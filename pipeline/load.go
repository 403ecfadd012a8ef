package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/imagegen/imagegen/ort"
)

// Options configure a Pipeline.
type Options struct {
	// Session configures every ONNX Runtime session (device, threads,
	// graph optimization).
	Session ort.Options
	// LowMem holds one model at a time: each Generate opens the text
	// encoders, then the denoiser, then the VAE, releasing each when its
	// phase ends. Peak memory is then that of the largest component (the
	// UNet) instead of all of them, at the cost of reloading every call.
	// Families without separate phases ignore it.
	LowMem bool
	// LoRAs are merged into the weights of the components they change
	// (latent-diffusion families) when their sessions open.
	LoRAs []LoRA
	// Embeddings are textual-inversion files (.safetensors, .pt, .bin)
	// added to the CLIP text encoders as new tokens (SD, SDXL); a prompt
	// calls each by its file name without the extension.
	Embeddings []string
	// VAETile forces tiled VAE decoding and encoding with tiles of this
	// many pixels a side (a multiple of the VAE factor), overlapping by a
	// quarter. 0 tiles only pictures whose whole run would need more than
	// VAEMemoryBudget bytes (0 = 4 GiB), with 512-pixel tiles.
	VAETile         int
	VAEMemoryBudget int64
	// PreviewDecoder is the folder of a small decoder for Request.Preview
	// in TAESD's public ONNX layout (vae_decoder/model.onnx taking
	// latent_sample, giving sample in [-1, 1]); "" = the linear
	// latent-to-RGB approximation.
	PreviewDecoder string
	// StrictLoRA makes LoRA keys that match no weight an error (ErrLoRA);
	// without it they are listed in a notice (Session.Notice).
	StrictLoRA bool
}

// Pipeline is a loaded checkpoint of any family. Its methods are safe for
// concurrent use; Generate calls are serialized.
type Pipeline struct {
	dir      string
	class    string
	family   Family
	defaults Defaults
	impl     familyPipeline
	cascade  *cascade // nil without imagegen_cascade
}

// familyPipeline is what each family's room implements: one sampling loop
// over its own sessions. Optional abilities (a likelihood, an image codec)
// are further interfaces the Pipeline looks for.
type familyPipeline interface {
	// generate runs a request whose zero fields the checkpoint's defaults
	// have already filled.
	generate(ctx context.Context, r Request) (*Result, error)
	// defaultSize is the picture size when the request and the
	// checkpoint's defaults give none.
	defaultSize() (height, width int)
	close() error
}

// ErrNotCheckpoint is returned by Load for a folder that is not an
// exported checkpoint (or misses a component its family needs).
var ErrNotCheckpoint = errors.New("pipeline: not an exported checkpoint")

// ErrNotSupported is returned (wrapped) by methods that the checkpoint's
// family has no use for: a likelihood of a diffusion model, codes of a
// VAE, generation from a VQ-VAE that has no prior.
var ErrNotSupported = errors.New("pipeline: not supported by this model family")

// Load opens the checkpoint folder dir: model_index.json's _class_name (or,
// without one, the denoiser's config or declared inputs) picks the family,
// whose loader reads
// the component configs and opens the ONNX sessions. The generation
// defaults of model_index.json ("imagegen_defaults") apply to every
// Generate call that leaves a field at zero, and its "imagegen_cascade"
// (Cascade) names a super-resolution stage that requests above the
// checkpoint's own size run through. A folder holding checkpoint
// variants in subfolders (NAME_io16/, NAME_io32/) opens its only variant,
// or its _io32 one; Dir then names the folder opened.
func Load(ctx context.Context, dir string, opts Options) (*Pipeline, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a file, want the checkpoint folder", ErrNotCheckpoint, dir)
	}
	if dir, err = chooseVariant(dir); err != nil {
		return nil, err
	}
	fam, idx, err := detectFamily(dir)
	if err != nil {
		return nil, err
	}
	if err := idx.Defaults.validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %s: model_index.json: %w", dir, err)
	}
	casc, err := newCascade(idx.Cascade, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: model_index.json: %w", dir, err)
	}
	load := familyLoaders[fam]
	impl, err := load(ctx, dir, fam, idx, opts)
	if err != nil {
		return nil, err
	}
	return &Pipeline{dir: dir, class: idx.ClassName, family: fam, defaults: idx.Defaults, impl: impl, cascade: casc}, nil
}

// Generate runs one request: the checkpoint's defaults fill the fields
// left at zero, then the family's pipeline runs it. It stops within one
// model call when ctx is cancelled.
func (p *Pipeline) Generate(ctx context.Context, r Request) (*Result, error) {
	p.defaults.Apply(&r)
	if _, ok := p.impl.(*videoPipeline); !ok && r.videoFields() != "" {
		return nil, badRequest("%s applies to video checkpoints (SVD, AnimateDiff), not the %s family", r.videoFields(), p.family)
	}
	if _, ok := p.impl.(temperatureSampler); r.Temperature != 0 && !ok {
		return nil, badRequest("the %s family has no sampling temperature (got %v)", p.family, r.Temperature)
	}
	if err := checkClassifierScale(p.impl, r.ClassifierScale); err != nil {
		return nil, err
	}
	if p.cascade != nil && p.cascade.covers(r) {
		return p.cascade.generate(ctx, p.impl, r)
	}
	return p.impl.generate(ctx, r)
}

// temperatureSampler is implemented by families that read
// Request.Temperature.
type temperatureSampler interface {
	temperature(r Request) (float64, error)
}

// Family returns the detected pipeline family.
func (p *Pipeline) Family() Family { return p.family }

// Class returns model_index.json's _class_name ("" when the family was
// read off the folders).
func (p *Pipeline) Class() string { return p.class }

// Dir returns the checkpoint folder.
func (p *Pipeline) Dir() string { return p.dir }

// Defaults returns the generation settings the checkpoint suggests.
func (p *Pipeline) Defaults() Defaults { return p.defaults }

// VAEScale returns the latent-diffusion VAE's downsampling factor (8 for
// real checkpoints), or 1 for families without a latent space.
func (p *Pipeline) VAEScale() int {
	switch d := p.impl.(type) {
	case *diffusionPipeline:
		return d.vaeScale
	case *videoPipeline:
		return d.vaeScale
	}
	return 1
}

// DefaultSize returns the picture size used when a request gives none: the
// checkpoint's defaults, else its family's (diffusers' for diffusion).
func (p *Pipeline) DefaultSize() (height, width int) {
	if p.defaults.Height > 0 && p.defaults.Width > 0 {
		return p.defaults.Height, p.defaults.Width
	}
	return p.impl.defaultSize()
}

// Cascade returns the checkpoint's super-resolution cascade
// (model_index.json's imagegen_cascade), or nil.
func (p *Pipeline) Cascade() *Cascade {
	if p.cascade == nil {
		return nil
	}
	c := p.cascade.Cascade
	return &c
}

// BaseSize returns the size the checkpoint's own model draws for a
// request of height x width (after defaults): the cascade's base size
// when its stage would enlarge the pictures, else the size asked for. Its
// latents (StepInfo.Latents) are those of that size.
func (p *Pipeline) BaseSize(height, width int) (int, int) {
	if c := p.cascade; c != nil && c.covers(Request{Height: height, Width: width}) {
		return c.Height, c.Width
	}
	return height, width
}

// Close releases every session. It is safe to call more than once.
func (p *Pipeline) Close() error {
	return errors.Join(p.impl.close(), p.cascade.close())
}
