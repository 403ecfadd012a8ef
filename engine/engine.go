package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // init images may be PNG
	"strconv"
	"time"

	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/modelcache"
	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/pipeline"
)

// Model is a loaded pipeline with the registry defaults of its name.
type Model struct {
	Name     string
	Pipeline *pipeline.Pipeline
	Defaults modelreg.Defaults
}

// Close releases the pipeline.
func (m *Model) Close() error { return m.Pipeline.Close() }

// Limits bound what one job may ask for. Zero values mean the defaults.
type Limits struct {
	// MaxImages per job (default 10).
	MaxImages int
	// MaxPixels bounds width×height of outputs and of decoded input
	// pictures (default 2048×2048).
	MaxPixels int
	// MaxSteps (default 150).
	MaxSteps int
	// MaxPromptBytes (default 16384).
	MaxPromptBytes int
}

func (l *Limits) fill() {
	if l.MaxImages <= 0 {
		l.MaxImages = 10
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = 2048 * 2048
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = 150
	}
	if l.MaxPromptBytes <= 0 {
		l.MaxPromptBytes = 16384
	}
}

// DefaultLimits returns the limits the zero Limits stands for.
func DefaultLimits() Limits {
	var l Limits
	l.fill()
	return l
}

// Engine turns job specs into pictures.
type Engine struct {
	cache  *modelcache.Cache[*Model]
	limits Limits
	// signer, when set, signs every picture with a C2PA manifest naming
	// generator as the software.
	signer    *c2pa.Signer
	generator c2pa.Agent
}

// New returns an engine over cache.
func New(cache *modelcache.Cache[*Model], limits Limits) *Engine {
	limits.fill()
	return &Engine{cache: cache, limits: limits}
}

// WithC2PA returns a copy of e that embeds a C2PA manifest signed by s in
// every picture it encodes (PNG and JPEG): created by generator with a
// trained model, the model name and the job's parameters. See package c2pa.
func (e *Engine) WithC2PA(s *c2pa.Signer, generator c2pa.Agent) *Engine {
	c := *e
	c.signer, c.generator = s, generator
	return &c
}

// Limits returns the limits in force.
func (e *Engine) Limits() Limits { return e.limits }

func badRequest(format string, args ...any) error {
	return &jobqueue.RunError{Kind: "bad_request", Err: fmt.Errorf(format, args...)}
}

// Check validates a spec without running it: what can be told before the
// model is loaded.
func (e *Engine) Check(s *jobqueue.Spec) error {
	switch {
	case s.Model == "":
		return badRequest("no model given")
	case len(s.Prompt) > e.limits.MaxPromptBytes || len(s.NegativePrompt) > e.limits.MaxPromptBytes:
		return badRequest("prompt longer than %d bytes", e.limits.MaxPromptBytes)
	case s.N < 0 || s.N > e.limits.MaxImages:
		return badRequest("n must be in 1..%d, got %d", e.limits.MaxImages, s.N)
	case s.Width < 0 || s.Height < 0:
		return badRequest("size %dx%d: sides must be positive", s.Width, s.Height)
	case s.Width*s.Height > e.limits.MaxPixels:
		return badRequest("size %dx%d is over this server's limit of %d pixels", s.Width, s.Height, e.limits.MaxPixels)
	case s.Steps < 0 || s.Steps > e.limits.MaxSteps:
		return badRequest("steps must be in 1..%d, got %d", e.limits.MaxSteps, s.Steps)
	case s.Strength < 0 || s.Strength > 1:
		return badRequest("strength must be in (0, 1], got %g", s.Strength)
	case s.Format != "" && s.Format != "png" && s.Format != "jpeg":
		return badRequest("output format %q: want png or jpeg", s.Format)
	case len(s.Mask) > 0 && len(s.InitImage) == 0:
		return badRequest("a mask needs an image")
	}
	for _, pic := range [][]byte{s.InitImage, s.Mask} {
		if len(pic) > 0 {
			if _, err := e.decode(pic); err != nil {
				return err
			}
		}
	}
	return nil
}

// decode reads an encoded picture after checking the size its header
// declares, so that a small file claiming a huge picture is refused
// before any pixel memory is allocated.
func (e *Engine) decode(b []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, badRequest("image: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > e.limits.MaxPixels {
		return nil, badRequest("image of %dx%d is over this server's limit of %d pixels", cfg.Width, cfg.Height, e.limits.MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, badRequest("image: %v", err)
	}
	return img, nil
}

// Run implements jobqueue.Runner.
func (e *Engine) Run(ctx context.Context, s jobqueue.Spec, progress func(jobqueue.Step)) (*jobqueue.Output, error) {
	outs, errs := e.RunBatch(ctx, []jobqueue.Spec{s}, func(_ int, st jobqueue.Step) { progress(st) })
	return outs[0], errs[0]
}

// BatchKey implements jobqueue.Batching's Key: jobs with the same key run
// together in one Generate call, each prompt with its own seed (see
// pipeline.Request.Seeds), so batching never changes a job's pictures.
// Img2img and inpainting jobs run alone ("").
func (e *Engine) BatchKey(s jobqueue.Spec) string {
	if len(s.InitImage) > 0 || len(s.Mask) > 0 {
		return ""
	}
	g := "default"
	if s.Guidance != nil {
		g = strconv.FormatFloat(*s.Guidance, 'g', -1, 64)
	}
	return fmt.Sprintf("%q n=%d %dx%d steps=%d guidance=%s %q %q", s.Model, max(1, s.N), s.Width, s.Height, s.Steps, g, s.Scheduler, s.NegativePrompt)
}

// RunBatch implements jobqueue.BatchRunner: it runs specs that share a
// BatchKey in one Generate call and returns each job's output or error, in
// order. A spec that fails Check gets its own error and the others run; an
// error of the run is every job's.
func (e *Engine) RunBatch(ctx context.Context, specs []jobqueue.Spec, progress func(job int, s jobqueue.Step)) ([]*jobqueue.Output, []error) {
	outs, errs := make([]*jobqueue.Output, len(specs)), make([]error, len(specs))
	var run []int // indices of the specs that pass Check
	for i := range specs {
		if errs[i] = e.Check(&specs[i]); errs[i] == nil {
			run = append(run, i)
		}
	}
	if len(run) == 0 {
		return outs, errs
	}
	fail := func(err error) ([]*jobqueue.Output, []error) {
		for _, i := range run {
			errs[i] = err
		}
		return outs, errs
	}
	first := specs[run[0]]
	if len(run) > 1 {
		for _, i := range run {
			if e.BatchKey(specs[i]) != e.BatchKey(first) || e.BatchKey(first) == "" {
				return fail(fmt.Errorf("engine: jobs of different batch keys given to one run"))
			}
		}
	}
	m, release, err := e.cache.Acquire(ctx, first.Model)
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(fmt.Errorf("load model %s: %w", first.Model, err))
	}
	defer release()
	if f := m.Pipeline.Family(); f == pipeline.FamilySVD || f == pipeline.FamilyAnimateDiff {
		return fail(&jobqueue.RunError{Kind: "not_supported", Err: fmt.Errorf("engine: %s is a video model; the server returns pictures (make clips with imagegen generate)", first.Model)})
	}
	req, err := e.request(specs, run, m)
	if err != nil {
		return fail(err)
	}
	scale := max(1, m.Pipeline.VAEScale())
	// A cascade's latents are those of its base size.
	baseH, baseW := m.Pipeline.BaseSize(req.Height, req.Width)
	req.Progress = func(si pipeline.StepInfo) {
		for k, i := range run {
			st := jobqueue.Step{Step: si.Step, Total: si.Total}
			if specs[i].Preview {
				per := len(si.Latents) / len(run)
				st.Preview = latentPreview(si.Latents[k*per:(k+1)*per], baseH/scale, baseW/scale, req.NumImages)
			}
			progress(i, st)
		}
	}
	start := time.Now()
	res, err := m.Pipeline.Generate(ctx, req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return fail(ctx.Err())
		case errors.Is(err, pipeline.ErrBadRequest):
			return fail(&jobqueue.RunError{Kind: "bad_request", Err: err})
		case errors.Is(err, pipeline.ErrNotSupported):
			return fail(&jobqueue.RunError{Kind: "not_supported", Err: err})
		}
		return fail(err)
	}
	imgs, err := imageio.ToNRGBA(res.Images, []int{res.N, res.H, res.W, 3}, imageio.NHWC, imageio.Unit)
	if err != nil {
		return fail(err)
	}
	seconds := time.Since(start).Seconds()
	for k, i := range run {
		s := specs[i]
		seed := res.Seed
		if len(req.Seeds) > 0 {
			seed = req.Seeds[k]
		}
		out := &jobqueue.Output{Info: jobqueue.Info{
			Model: s.Model, Width: res.W, Height: res.H, Steps: res.Steps, Guidance: res.Guidance,
			Scheduler: res.Scheduler, Seed: seed, Seconds: seconds,
		}}
		for j := range req.NumImages {
			enc, err := e.encode(imgs[k*req.NumImages+j], s, res, seed, j)
			if err != nil {
				errs[i] = err
				break
			}
			out.Images = append(out.Images, enc)
		}
		if errs[i] == nil {
			outs[i] = out
		}
	}
	return outs, errs
}

// request builds the pipeline request of the specs listed in run: one
// spec as it is, several as one prompt each with their own seeds.
func (e *Engine) request(specs []jobqueue.Spec, run []int, m *Model) (pipeline.Request, error) {
	s := specs[run[0]]
	req := pipeline.Request{
		NegativePrompt: s.NegativePrompt, Scheduler: s.Scheduler, Steps: s.Steps, Guidance: s.Guidance, Seed: s.Seed,
		Width: s.Width, Height: s.Height, NumImages: max(1, s.N), Strength: s.Strength,
	}
	for _, i := range run {
		req.Prompts = append(req.Prompts, specs[i].Prompt)
		if len(run) > 1 {
			req.Seeds = append(req.Seeds, specs[i].Seed)
		}
	}
	var err error
	if len(s.InitImage) > 0 {
		if req.InitImage, err = e.decode(s.InitImage); err != nil {
			return req, err
		}
	}
	if len(s.Mask) > 0 {
		if req.Mask, err = e.decode(s.Mask); err != nil {
			return req, err
		}
	}
	// The registry entry's defaults first; the checkpoint's own apply
	// after, inside Generate.
	pipeline.Defaults(m.Defaults).Apply(&req)
	if req.InitImage != nil && req.Width == 0 && req.Height == 0 {
		b := req.InitImage.Bounds()
		req.Width, req.Height = b.Dx(), b.Dy()
	}
	return req, nil
}

// encode writes one picture in the spec's format, with the generation
// record (PNG text chunks) and, with a signer, a C2PA manifest.
func (e *Engine) encode(img image.Image, s jobqueue.Spec, res *pipeline.Result, seed uint64, index int) (jobqueue.Image, error) {
	record := map[string]any{
		"model": s.Model, "prompt": s.Prompt, "negative_prompt": s.NegativePrompt, "scheduler": res.Scheduler,
		"steps": res.Steps, "guidance": res.Guidance, "seed": seed, "width": res.W, "height": res.H,
		"index": index, "strength": res.Strength,
	}
	var buf bytes.Buffer
	out := jobqueue.Image{ContentType: "image/png"}
	if s.Format == "jpeg" {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			return jobqueue.Image{}, fmt.Errorf("encode jpeg: %w", err)
		}
		out.ContentType = "image/jpeg"
	} else {
		params := imageio.GenerationParams{
			Prompt: s.Prompt, NegativePrompt: s.NegativePrompt, Steps: res.Steps, Sampler: res.Scheduler,
			CFGScale: res.Guidance, Seed: seed, Width: res.W, Height: res.H, Model: s.Model,
			DenoisingStrength: res.Strength,
		}
		js, _ := json.Marshal(record)
		meta := imageio.Metadata{Parameters: params.Infotext(), JSON: string(js)}
		if err := imageio.EncodePNG(&buf, img, meta); err != nil {
			return jobqueue.Image{}, err
		}
	}
	out.Data = buf.Bytes()
	if e.signer != nil {
		m := c2pa.Manifest{Generator: e.generator, Model: s.Model, Parameters: record}
		signed, err := c2pa.Sign(out.Data, m, e.signer)
		if err != nil {
			return jobqueue.Image{}, err
		}
		out.Data = signed
	}
	return out, nil
}
