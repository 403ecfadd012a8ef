package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/shapes"
)

// The flow family (ImagegenFlowPipeline): a conditional normalizing flow
// (Glow-style: squeeze, actnorm, invertible 1x1 convolutions, affine
// couplings, multi-scale conditional priors). Its forward model maps a
// picture and the prompt's shapes attributes to a standard-normal latent
// and the log-determinant of that map, so the family has an exact
// likelihood; its inverse maps a latent back to the picture. Generate
// draws the latent at a temperature τ (ε ~ N(0, τ²I)).
//
// Folder: flow_encoder/model.onnx (sample [B, 3, S, S] in [-1, 1],
// condition [B, 70] → latent [B, D], logdet [B]; D = 3·S·S) and
// flow_decoder/model.onnx (latent [B, D], condition → sample), each with
// a config.json; the decoder's gives latent_dim, condition_size,
// sample_size and the default temperature.

// flowConfig is flow_decoder/config.json.
type flowConfig struct {
	LatentDim     int     `json:"latent_dim"`
	ConditionSize int     `json:"condition_size"`
	SampleSize    int     `json:"sample_size"`
	Temperature   float64 `json:"temperature"`
}

type flowPipeline struct {
	dir string
	cfg flowConfig

	mu      sync.Mutex
	opts    ort.Options
	decoder *ort.Session
	encoder *ort.Session // opened on first use
	closed  bool
}

func loadFlow(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &flowPipeline{dir: dir, opts: opts.Session}
	cfgPath := filepath.Join(dir, "flow_decoder", "config.json")
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	c := p.cfg
	if c.SampleSize <= 0 || c.LatentDim != 3*c.SampleSize*c.SampleSize || c.ConditionSize != shapes.ConditionSize ||
		c.Temperature < 0 || math.IsNaN(c.Temperature) || math.IsInf(c.Temperature, 0) {
		return nil, fmt.Errorf("%w: %s: want sample_size S > 0, latent_dim 3·S·S, condition_size %d and a temperature ≥ 0, got %+v",
			ErrNotCheckpoint, cfgPath, shapes.ConditionSize, c)
	}
	if p.cfg.Temperature == 0 {
		p.cfg.Temperature = 1
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var err error
	p.decoder, err = openComponent(dir, "flow_decoder", opts.Session,
		[]ioSpec{{"latent", ort.Float32, []int64{-1, int64(c.LatentDim)}}, {"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}},
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, int64(c.SampleSize), int64(c.SampleSize)}}})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *flowPipeline) defaultSize() (int, int) { return p.cfg.SampleSize, p.cfg.SampleSize }

func (p *flowPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range []*ort.Session{p.decoder, p.encoder} {
		if s != nil {
			s.Close()
		}
	}
	p.decoder, p.encoder = nil, nil
	return nil
}

// openEncoder opens flow_encoder on first use (generating needs only the
// decoder).
func (p *flowPipeline) openEncoder() error {
	if p.encoder != nil {
		return nil
	}
	c := p.cfg
	enc, err := openComponent(p.dir, "flow_encoder", p.opts,
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, int64(c.SampleSize), int64(c.SampleSize)}}, {"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}},
		[]ioSpec{{"latent", ort.Float32, []int64{-1, int64(c.LatentDim)}}, {"logdet", ort.Float32, []int64{-1}}})
	if err != nil {
		return err
	}
	p.encoder = enc
	return nil
}

// temperature is the request's sampling temperature, or the model's.
func (p *flowPipeline) temperature(r Request) (float64, error) {
	t := r.Temperature
	if t == 0 {
		return p.cfg.Temperature, nil
	}
	if t < 0 || math.IsNaN(t) || math.IsInf(t, 0) {
		return 0, badRequest("temperature must be a positive number, got %v", t)
	}
	return t, nil
}

func (p *flowPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	if err := checkOnePass(r, "flow"); err != nil {
		return nil, err
	}
	if err := checkFixedSize(r, p.cfg.SampleSize); err != nil {
		return nil, err
	}
	tau, err := p.temperature(r)
	if err != nil {
		return nil, err
	}
	per := max(1, r.NumImages)
	cond, err := attributeConditions(r.Prompts, per)
	if err != nil {
		return nil, err
	}
	n := len(r.Prompts) * per
	z := make([]float32, n*p.cfg.LatentDim)
	rng.New(r.Seed).Randn(z)
	for i := range z {
		z[i] *= float32(tau)
	}
	res, err := p.decode(ctx, z, cond, n)
	if err != nil {
		return nil, err
	}
	res.Seed = r.Seed
	res.Timings.Total = time.Since(start)
	return res, nil
}

// decode runs the inverse flow on n latents and their conditions.
func (p *flowPipeline) decode(ctx context.Context, z, cond []float32, n int) (*Result, error) {
	return conditionalDecode(ctx, p.decoder, "flow_decoder", "latent", z, cond, n, p.cfg.LatentDim, p.cfg.ConditionSize, p.cfg.SampleSize, FamilyFlow)
}

// promptConditions gives n pictures or latents their conditions: none
// given is the empty prompt's (the flow is also trained unconditioned),
// one is for all, else one each.
func promptConditions(prompts []string, n int, what string) ([]float32, error) {
	switch len(prompts) {
	case 0:
		return attributeConditions([]string{""}, n)
	case 1:
		return attributeConditions(prompts, n)
	case n:
		return attributeConditions(prompts, 1)
	}
	return nil, badRequest("%d prompts for %d %s: give none, one for all or one each", len(prompts), n, what)
}

// decodeLatents decodes latents [N, D] (what encodeLatents and Generate's
// Result.Latents hold) with their prompts.
func (p *flowPipeline) decodeLatents(ctx context.Context, z []float32, shape []int, prompts []string) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	d := p.cfg.LatentDim
	if len(shape) != 2 || shape[1] != d || shape[0] < 1 || len(z) != shape[0]*d {
		return nil, badRequest("latents of shape %v: this flow decodes float32 latents [N, %d]", shape, d)
	}
	for i, v := range z {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, badRequest("latent value %d is %v", i, v)
		}
	}
	cond, err := promptConditions(prompts, shape[0], "latents")
	if err != nil {
		return nil, err
	}
	return p.decode(ctx, z, cond, shape[0])
}

// encodeLatents maps pictures with their prompts to latents [N, D] and
// the log-determinants of the map.
func (p *flowPipeline) encodeLatents(ctx context.Context, imgs []image.Image, prompts []string) (*Latents, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if len(imgs) == 0 {
		return nil, badRequest("no pictures to encode")
	}
	cond, err := promptConditions(prompts, len(imgs), "pictures")
	if err != nil {
		return nil, err
	}
	x, err := p.pictureTensors(imgs)
	if err != nil {
		return nil, err
	}
	if err := p.openEncoder(); err != nil {
		return nil, err
	}
	z, logdet, err := p.encode(ctx, x, cond, len(imgs))
	if err != nil {
		return nil, err
	}
	return &Latents{Values: z, Shape: []int{len(imgs), p.cfg.LatentDim}, LogDet: logdet}, nil
}

// pictureTensors checks the pictures' size and returns them as CHW
// tensors in [-1, 1].
func (p *flowPipeline) pictureTensors(imgs []image.Image) ([]float32, error) {
	s := p.cfg.SampleSize
	x := make([]float32, 0, len(imgs)*3*s*s)
	for i, img := range imgs {
		if b := img.Bounds(); b.Dx() != s || b.Dy() != s {
			return nil, badRequest("picture %d is %dx%d; this flow takes %dx%d pictures", i, b.Dx(), b.Dy(), s, s)
		}
		t, err := imageio.ImageTensor(img, s, s)
		if err != nil {
			return nil, err
		}
		x = append(x, t...)
	}
	return x, nil
}

// encode runs the forward flow on n pictures x [n, 3, S, S].
func (p *flowPipeline) encode(ctx context.Context, x, cond []float32, n int) (z, logdet []float32, err error) {
	s := int64(p.cfg.SampleSize)
	out := map[string]*ort.Tensor{"latent": {}, "logdet": {}}
	in := map[string]ort.Tensor{
		"sample":    {Shape: []int64{int64(n), 3, s, s}, F32: x},
		"condition": {Shape: []int64{int64(n), int64(p.cfg.ConditionSize)}, F32: cond},
	}
	if err := p.encoder.Run(ctx, in, out); err != nil {
		return nil, nil, fmt.Errorf("pipeline: flow_encoder: %w", err)
	}
	return out["latent"].F32, out["logdet"].F32, nil
}

// Latents are a latent encoder's output: N latents of Shape[1:] values
// each, and for a flow the log-determinant of the map from each picture
// to its latent.
type Latents struct {
	Values []float32
	Shape  []int
	LogDet []float32
}

// latentEncoder is implemented by families whose encoder maps pictures to
// the latents their decoder reads.
type latentEncoder interface {
	encodeLatents(ctx context.Context, imgs []image.Image, prompts []string) (*Latents, error)
}

// EncodeLatents maps pictures (the model's size), conditioned on prompts
// (none: the empty prompt; one for all, or one per picture), to the
// latents that DecodeLatents turns back into the same pictures. Families
// without such an encoder return ErrNotSupported.
func (p *Pipeline) EncodeLatents(ctx context.Context, imgs []image.Image, prompts []string) (*Latents, error) {
	e, ok := p.impl.(latentEncoder)
	if !ok {
		return nil, fmt.Errorf("%w: the %s family has no latent encoder", ErrNotSupported, p.family)
	}
	return e.encodeLatents(ctx, imgs, prompts)
}
