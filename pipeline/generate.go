package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/schedulers"
)

// ErrClosed is returned by Generate after Close.
var ErrClosed = errors.New("pipeline: closed")

// generate runs one request. It stops within one model call when ctx is
// cancelled.
func (p *diffusionPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	q, err := p.resolve(r)
	if err != nil {
		return nil, err
	}
	sched, err := schedulers.Load(filepath.Join(p.dir, "scheduler", "scheduler_config.json"), q.Scheduler, q.SchedulerOpts)
	if err != nil {
		return nil, fmt.Errorf("pipeline: scheduler: %w", err)
	}
	if err := p.index.checkScheduler(sched.Config().ClassName); err != nil {
		return nil, err
	}
	run, err := p.newRun(q, sched)
	if err != nil {
		return nil, err
	}

	var tm Timings
	t0 := time.Now()
	encs := p.encoders
	if p.opts.LowMem {
		if encs, err = p.openEncoders(); err != nil {
			return nil, err
		}
	}
	cond, err := p.encodePrompts(ctx, q, encs)
	if p.opts.LowMem {
		closeEncoders(encs)
	}
	if err != nil {
		return nil, err
	}

	tm.TextEncode = time.Since(t0)
	if err := run.setTimesteps(); err != nil {
		return nil, err
	}
	if p.opts.LowMem {
		// One model at a time: the denoiser now, the VAE decoder after it.
		if p.denoiser, err = p.open(p.denoiserName); err != nil {
			return nil, err
		}
		defer p.release(&p.denoiser)
	}
	gen := rng.New(q.Seed)
	var noise schedulers.Noise = gen
	if len(q.Seeds) > 0 {
		noise = newPerPromptNoise(q.Seeds)
	}
	t1 := time.Now()
	if err := p.initLatents(ctx, run, gen, noise); err != nil {
		return nil, err
	}
	tm.VAE = time.Since(t1)
	t1 = time.Now()
	if err := p.denoise(ctx, run, cond, noise); err != nil {
		return nil, err
	}
	tm.Denoiser = run.denoiserTime
	tm.Steps = run.stepTimes
	tm.Host = time.Since(t1) - run.denoiserTime
	res := &Result{
		Latents: append([]float32(nil), run.latents...), LatentShape: run.latentShape(),
		Timesteps: run.timesteps, Scheduler: sched.Config().ClassName, SchedulerConfig: sched.Config(), Steps: q.Steps,
		Guidance: q.guidance, Strength: q.Strength, Seed: q.Seed, ModelFamily: p.family, DenoiserCalls: run.calls,
	}
	t1 = time.Now()
	if p.opts.LowMem && !p.pixel {
		p.release(&p.denoiser)
		p.release(&p.vaeEnc)
		if p.vaeDec, err = p.open("vae_decoder"); err != nil {
			return nil, err
		}
		defer p.release(&p.vaeDec)
	}
	if err := p.decode(ctx, run, res); err != nil {
		return nil, err
	}
	tm.VAE += time.Since(t1)
	tm.Total = time.Since(t0)
	res.Timings = tm
	return res, nil
}

// run is the state of one Generate call: geometry, schedule and buffers
// reused across steps.
type run struct {
	q     *resolved
	sched schedulers.Scheduler
	cfg   bool

	batch     int // images in the run
	channels  int // latent channels the scheduler sees (packed for Flux)
	lh, lw    int // latent height and width (unpacked)
	packed    bool
	latents   []float32
	timesteps []float64
	begin     int // first scheduler index (img2img skips the start)
	calls     int
	// denoiserTime sums the time spent inside denoiser runs.
	denoiserTime time.Duration
	stepTimes    []time.Duration // denoiser time of each step
	inpaint      *inpaintState
	imageLat     []float32 // img2img/inpainting: the encoded init image latents
	patch        int       // SD3 transformer patch size
}

func (p *diffusionPipeline) newRun(q *resolved, sched schedulers.Scheduler) (*run, error) {
	r := &run{q: q, sched: sched, cfg: q.cfg(p), batch: q.batch}
	r.lh, r.lw = q.Height/p.vaeScale, q.Width/p.vaeScale
	switch p.family {
	case FamilyFlux:
		if p.den.InChannels%4 != 0 || p.den.InChannels == 0 {
			return nil, fmt.Errorf("pipeline: %s: transformer in_channels %d is not 4× the latent channels", p.dir, p.den.InChannels)
		}
		r.channels, r.packed = p.den.InChannels/4, true
	case FamilySD3:
		r.channels, r.patch = p.den.InChannels, p.den.PatchSize
	default:
		r.channels = p.den.InChannels
		if r.channels == 9 || q.Mask != nil {
			r.channels = p.vae.LatentChannels
			if r.channels == 0 {
				r.channels = 4
			}
		}
	}
	if r.channels <= 0 {
		return nil, fmt.Errorf("pipeline: %s: cannot tell the latent channel count from the configs", p.dir)
	}
	if p.family == FamilySD && p.den.InChannels == 9 && q.Mask == nil {
		return nil, badRequest("this is an inpainting checkpoint (9-channel UNet): give --init-image and --mask")
	}
	if q.Mask != nil && p.family != FamilySD {
		return nil, badRequest("inpainting is supported for SD 1.x/2.x checkpoints only")
	}
	r.latents = make([]float32, r.batch*r.channels*r.lh*r.lw)
	return r, nil
}

// latentShape is the shape of the latents as the scheduler sees them.
func (r *run) latentShape() []int64 {
	if r.packed {
		return []int64{int64(r.batch), int64(r.lh / 2 * r.lw / 2), int64(r.channels * 4)}
	}
	return []int64{int64(r.batch), int64(r.channels), int64(r.lh), int64(r.lw)}
}

// setTimesteps builds the schedule with the family's extra arguments
// (Flux's sigmas and shift, SD3's dynamic shift) and trims it for img2img.
func (r *run) setTimesteps() error {
	q := r.q
	params := schedulers.TimestepParams{Steps: q.Steps, Eta: q.Eta, Batch: r.batch}
	if q.InitImage != nil {
		params.Strength = q.Strength
	}
	cfg := r.sched.Config()
	mu := func(seqLen int) *float64 {
		base, max := cfg.BaseImageSeqLen, cfg.MaxImageSeqLen
		if base == 0 {
			base = 256
		}
		if max == 0 {
			max = 4096
		}
		bs, ms := cfg.BaseShift, cfg.MaxShift
		if bs == 0 && ms == 0 {
			bs, ms = 0.5, 1.15
		}
		m := calculateShift(seqLen, base, max, bs, ms)
		return &m
	}
	switch {
	case r.packed: // Flux
		if !cfg.UseFlowSigmas {
			params.Sigmas = make([]float64, q.Steps)
			for i := range params.Sigmas {
				if q.Steps == 1 {
					params.Sigmas[i] = 1
				} else {
					params.Sigmas[i] = 1 + (1/float64(q.Steps)-1)*float64(i)/float64(q.Steps-1)
				}
			}
		}
		params.Mu = mu(r.lh / 2 * r.lw / 2)
	case cfg.UseDynamicShift: // SD3
		patch := max(1, r.patch)
		params.Mu = mu((r.lh / patch) * (r.lw / patch))
	}
	if err := r.sched.SetTimesteps(params); err != nil {
		return fmt.Errorf("pipeline: scheduler: %w", err)
	}
	if q.InitImage != nil && !(q.Mask != nil && q.Strength == 1) {
		b, err := schedulers.Img2ImgBegin(r.sched, q.Steps, q.Strength)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		r.begin = b
	}
	all := r.sched.Timesteps()
	if r.begin >= len(all) {
		return badRequest("strength %g with %d steps leaves no step to run; raise the strength or the steps", q.Strength, q.Steps)
	}
	r.timesteps = append([]float64(nil), all[r.begin:]...)
	return nil
}

// checkFinite reports the first NaN or Inf in x.
func checkFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// denoiserIO names the denoiser's sample input and output: diffusers'
// transformers call them hidden_states / out_hidden_states, UNets sample /
// out_sample. The session's declared names decide, not the folder, since
// public exports keep SD3 and Flux transformers in unet/.
func (p *diffusionPipeline) denoiserIO() (in, out string) {
	in, out = "sample", "out_sample"
	if _, ok := p.denoiser.Input("hidden_states"); ok {
		in = "hidden_states"
	}
	if _, ok := p.denoiser.Output("out_hidden_states"); ok {
		out = "out_hidden_states"
	} else if _, ok := p.denoiser.Output(out); !ok && len(p.denoiser.Outputs()) == 1 {
		out = p.denoiser.Outputs()[0].Name
	}
	return in, out
}

// checkLatentSize refuses a latent size that the denoiser's sample input
// declares it cannot take (static height and width, as in a UNet with a
// learned position embedding), naming the image size it can make.
func (p *diffusionPipeline) checkLatentSize(sampleName string, shape []int64) error {
	info, ok := p.denoiser.Input(sampleName)
	if !ok || len(info.Shape) != 4 || len(shape) != 4 {
		return nil
	}
	h, w := info.Shape[2], info.Shape[3]
	if (h > 0 && h != shape[2]) || (w > 0 && w != shape[3]) {
		if h > 0 && w > 0 {
			return badRequest("size %dx%d: this checkpoint's %s only makes %dx%d images", shape[3]*int64(p.vaeScale), shape[2]*int64(p.vaeScale), p.denoiserName, w*int64(p.vaeScale), h*int64(p.vaeScale))
		}
		return badRequest("size %dx%d: this checkpoint's %s takes latents of %v only", shape[3]*int64(p.vaeScale), shape[2]*int64(p.vaeScale), p.denoiserName, info.Shape[2:])
	}
	return nil
}

// denoise runs the scheduler loop.
func (p *diffusionPipeline) denoise(ctx context.Context, r *run, cond *conditioning, noise schedulers.Noise) error {
	q := r.q
	sampleName, outName := p.denoiserIO()
	perSample := len(r.latents) / r.batch
	nb := r.batch
	if r.cfg {
		nb *= 2
	}
	extraCh := 0
	if r.inpaint != nil && r.inpaint.nineChannel {
		extraCh = 1 + r.channels // mask + masked-image latents
	}
	inPer := perSample + extraCh*r.lh*r.lw
	modelIn := make([]float32, nb*inPer)
	out := make([]float32, nb*perSample)
	guided := make([]float32, len(r.latents))
	ts := make([]float32, nb)

	inputs := map[string]ort.Tensor{}
	for k, v := range cond.inputs {
		inputs[k] = v
	}
	shape := r.latentShape()
	inShape := append([]int64{int64(nb)}, shape[1:]...)
	if extraCh > 0 {
		inShape[1] += int64(extraCh)
	}
	inputs[sampleName] = ort.Tensor{Shape: inShape, F32: modelIn}
	inputs["timestep"] = ort.Tensor{Shape: []int64{int64(nb)}, F32: ts}
	if r.packed {
		inputs["img_ids"] = imageIDs(r.lh/2, r.lw/2)
		if _, ok := p.denoiser.Input("guidance"); ok {
			g := make([]float32, nb)
			for i := range g {
				g[i] = float32(q.guidance)
			}
			inputs["guidance"] = ort.Tensor{Shape: []int64{int64(nb)}, F32: g}
		}
	}
	if err := p.checkLatentSize(sampleName, inShape); err != nil {
		return err
	}
	for _, info := range p.denoiser.Inputs() {
		if _, ok := inputs[info.Name]; !ok {
			return fmt.Errorf("pipeline: %s: the %s needs input %s, which this pipeline (%s) does not provide", p.dir, p.denoiserName, info, p.family)
		}
	}
	for name := range inputs {
		if _, ok := p.denoiser.Input(name); !ok {
			delete(inputs, name) // optional conditioning the export does not take
		}
	}
	outShape := append([]int64{int64(nb)}, shape[1:]...)
	outputs := map[string]*ort.Tensor{outName: {Shape: outShape, F32: out}}
	guide, err := p.newClassifierGuide(r)
	if err != nil {
		return err
	}

	total := len(r.timesteps)
	r.stepTimes = make([]time.Duration, 0, total)
	loop := denoiseLoop{sched: r.sched, timesteps: r.timesteps, begin: r.begin, latents: r.latents, noise: noise, progress: q.Progress}
	loop.predict = func(ctx context.Context, k int, t float64, scaled []float32) ([]float32, error) {
		for b := 0; b < nb; b++ {
			src := scaled[(b%r.batch)*perSample : (b%r.batch+1)*perSample]
			dst := modelIn[b*inPer : (b+1)*inPer]
			copy(dst, src)
			if extraCh > 0 {
				copy(dst[perSample:], r.inpaint.extra[(b%r.batch)*(inPer-perSample):(b%r.batch+1)*(inPer-perSample)])
			}
		}
		tv := float32(t)
		if r.packed {
			tv /= 1000 // Flux's transformer takes t in [0, 1]
		}
		for b := range ts {
			ts[b] = tv
		}
		outputs[outName].Shape, outputs[outName].F32 = outShape, out
		if err := r.runDenoiser(ctx, p.denoiser, inputs, outputs); err != nil {
			return nil, err
		}
		pred := out
		if r.cfg {
			combineCFG(guided, out, float32(q.guidance))
			// diffusers' SD img2img and inpainting pipelines ignore
			// guidance_rescale; text-to-image and SDXL apply it.
			if q.GuidanceRescale > 0 && (q.InitImage == nil || p.family == FamilySDXL) {
				rescaleCFG(guided, out[len(guided):], r.batch, q.GuidanceRescale)
			}
			pred = guided
		}
		if guide != nil {
			// The classifier's time counts as model time.
			tc := time.Now()
			if err := guide.apply(ctx, r.sched, r.latents, pred, t); err != nil {
				return nil, err
			}
			r.denoiserTime += time.Since(tc)
		}
		return pred, nil
	}
	if r.inpaint != nil && !r.inpaint.nineChannel {
		loop.afterStep = r.blendInpaint
	}
	if q.Preview != nil {
		loop.report = func(ctx context.Context, k int) error {
			if (k+1)%max(1, q.PreviewEvery) == 0 || k+1 == total {
				return p.preview(ctx, r, k+1, total)
			}
			return nil
		}
	}
	return loop.run(ctx)
}

// imageIDs are Flux's positional ids of the packed latent grid: (0, row,
// column) per patch.
func imageIDs(h, w int) ort.Tensor {
	ids := make([]float32, 0, h*w*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			ids = append(ids, 0, float32(y), float32(x))
		}
	}
	return ort.Tensor{Shape: []int64{int64(h * w), 3}, F32: ids}
}

// calculateShift is the dynamic-shift parameter mu of SD3 and Flux: linear
// in the image's token count between (baseSeq, baseShift) and (maxSeq,
// maxShift).
func calculateShift(seqLen, baseSeq, maxSeq int, baseShift, maxShift float64) float64 {
	m := (maxShift - baseShift) / float64(maxSeq-baseSeq)
	b := baseShift - m*float64(baseSeq)
	return float64(seqLen)*m + b
}

// release closes *s, if open, and forgets it.
func (p *diffusionPipeline) release(s **ort.Session) {
	if *s != nil {
		(*s).Close()
		*s = nil
	}
}
