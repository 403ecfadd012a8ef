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

// The VAE family (ImagegenVAEPipeline): a conditional VAE whose decoder maps
// a latent drawn from the prior (N(0, I), or a learned mixture p(z | c)
// when the folder has prior/) and the prompt's shapes attributes
// to a picture in one pass. Its encoder gives the approximate posterior, so
// the family also has a likelihood bound (Likelihood).
//
// Folder: decoder/model.onnx (latent [B, Z], condition [B, 70] → sample
// [B, 3, S, S], the mean of a Gaussian in [-1, 1]) and encoder/model.onnx
// (sample, condition → mean, logvar [B, Z]), each with a config.json.

// cvaeConfig is the decoder's config.json.
type cvaeConfig struct {
	LatentDim     int       `json:"latent_dim"`
	ConditionSize int       `json:"condition_size"`
	SampleSize    int       `json:"sample_size"`
	OutputLogStd  []float64 `json:"output_log_std"`
	Likelihood    string    `json:"likelihood"`
}

type vaePipeline struct {
	dir string
	cfg cvaeConfig

	mu      sync.Mutex
	opts    ort.Options
	decoder *ort.Session
	encoder *ort.Session  // opened on first Likelihood call
	prior   *mixturePrior // nil: N(0, I)
	closed  bool
}

func loadVAE(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &vaePipeline{dir: dir, opts: opts.Session}
	cfgPath := filepath.Join(dir, "decoder", "config.json")
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	c := p.cfg
	if c.LatentDim <= 0 || c.SampleSize <= 0 || c.ConditionSize != shapes.ConditionSize || len(c.OutputLogStd) != 3 {
		return nil, fmt.Errorf("%w: %s: want latent_dim > 0, sample_size > 0, condition_size %d and 3 output_log_std values, got %+v",
			ErrNotCheckpoint, cfgPath, shapes.ConditionSize, c)
	}
	if c.Likelihood != "" && c.Likelihood != "gaussian" {
		return nil, fmt.Errorf("%w: %s: likelihood %q (this pipeline knows \"gaussian\")", ErrNotCheckpoint, cfgPath, c.Likelihood)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var err error
	p.decoder, err = openComponent(dir, "decoder", opts.Session,
		[]ioSpec{{"latent", ort.Float32, []int64{-1, int64(c.LatentDim)}}, {"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}},
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, int64(c.SampleSize), int64(c.SampleSize)}}})
	if err != nil {
		return nil, err
	}
	if p.prior, err = loadPrior(dir, opts.Session, c.LatentDim, c.ConditionSize); err != nil {
		p.decoder.Close()
		return nil, err
	}
	return p, nil
}

func (p *vaePipeline) defaultSize() (int, int) { return p.cfg.SampleSize, p.cfg.SampleSize }

func (p *vaePipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range []*ort.Session{p.decoder, p.encoder} {
		if s != nil {
			s.Close()
		}
	}
	if p.prior != nil {
		p.prior.sess.Close()
	}
	p.decoder, p.encoder, p.prior = nil, nil, nil
	return nil
}

func (p *vaePipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	if err := checkOnePass(r, "VAE"); err != nil {
		return nil, err
	}
	if err := checkFixedSize(r, p.cfg.SampleSize); err != nil {
		return nil, err
	}
	per := max(1, r.NumImages)
	cond, err := attributeConditions(r.Prompts, per)
	if err != nil {
		return nil, err
	}
	n := len(r.Prompts) * per
	var z []float32
	if p.prior != nil {
		if z, err = p.prior.sample(ctx, cond, n, rng.New(r.Seed)); err != nil {
			return nil, err
		}
	} else {
		z = make([]float32, n*p.cfg.LatentDim)
		rng.New(r.Seed).Randn(z)
	}
	res, err := p.decode(ctx, z, cond, n)
	if err != nil {
		return nil, err
	}
	res.Seed = r.Seed
	res.Timings.Total = time.Since(start)
	return res, nil
}

// decode runs the decoder on n latents and their conditions.
func (p *vaePipeline) decode(ctx context.Context, z, cond []float32, n int) (*Result, error) {
	return conditionalDecode(ctx, p.decoder, "decoder", "latent", z, cond, n, p.cfg.LatentDim, p.cfg.ConditionSize, p.cfg.SampleSize, FamilyVAE)
}

// decodeLatents decodes given latents [N, Z] (as Generate's Result.Latents
// holds them) with one prompt for all or one per latent.
func (p *vaePipeline) decodeLatents(ctx context.Context, z []float32, shape []int, prompts []string) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	zd := p.cfg.LatentDim
	if len(shape) != 2 || shape[1] != zd || shape[0] < 1 || len(z) != shape[0]*zd {
		return nil, badRequest("latents of shape %v: this VAE decodes float32 latents [N, %d]", shape, zd)
	}
	for i, v := range z {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, badRequest("latent value %d is %v", i, v)
		}
	}
	n := shape[0]
	if len(prompts) != 1 && len(prompts) != n {
		return nil, badRequest("%d prompts for %d latents: give one for all or one per latent", len(prompts), n)
	}
	var cond []float32
	var err error
	if len(prompts) == 1 {
		cond, err = attributeConditions(prompts, n)
	} else {
		cond, err = attributeConditions(prompts, 1)
	}
	if err != nil {
		return nil, err
	}
	return p.decode(ctx, z, cond, n)
}

// latentDecoder is implemented by families that decode given latents.
type latentDecoder interface {
	decodeLatents(ctx context.Context, z []float32, shape []int, prompts []string) (*Result, error)
}

// DecodeLatents decodes latents as a family's Generate would decode the
// ones it draws (the VAE family: float32 [N, latent_dim], with the prompts
// that condition them: one for all, or one per latent). Latents of the
// wrong shape are ErrBadRequest; families without such a decoder return
// ErrNotSupported.
func (p *Pipeline) DecodeLatents(ctx context.Context, z []float32, shape []int, prompts []string) (*Result, error) {
	d, ok := p.impl.(latentDecoder)
	if !ok {
		return nil, fmt.Errorf("%w: the %s family has no latent decoder", ErrNotSupported, p.family)
	}
	return d.decodeLatents(ctx, z, shape, prompts)
}

// likelihood returns bits/dim bounds of pictures under the model: the ELBO
// (analytic KL, reconstruction term averaged over k posterior samples) and
// the IWAE bound with k importance samples. The decoder's Gaussian is
// discretized to the 256 levels of each 8-bit channel (edge bins open), so
// the bounds are of the probability of the pictures' actual bytes and need
// no dequantization noise.
func (p *vaePipeline) likelihood(ctx context.Context, q LikelihoodRequest) (*LikelihoodResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if err := q.validate(); err != nil {
		return nil, err
	}
	c := p.cfg
	if p.encoder == nil {
		enc, err := openComponent(p.dir, "encoder", p.opts,
			[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, int64(c.SampleSize), int64(c.SampleSize)}}, {"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}},
			[]ioSpec{{"mean", ort.Float32, []int64{-1, int64(c.LatentDim)}}, {"logvar", ort.Float32, []int64{-1, int64(c.LatentDim)}}})
		if err != nil {
			return nil, err
		}
		p.encoder = enc
	}
	s, zd, k := c.SampleSize, c.LatentDim, q.Samples
	dims := 3 * s * s
	gen := rng.New(q.Seed)
	res := &LikelihoodResult{Samples: k, Images: len(q.Images)}
	eps := make([]float32, k*zd)
	zs := make([]float32, k*zd)
	condK := make([]float32, k*c.ConditionSize)
	for i, img := range q.Images {
		if b := img.Bounds(); b.Dx() != s || b.Dy() != s {
			return nil, badRequest("picture %d is %dx%d; this model scores %dx%d pictures", i, b.Dx(), b.Dy(), s, s)
		}
		x, err := imageio.ImageTensor(img, s, s)
		if err != nil {
			return nil, err
		}
		cond, err := attributeConditions([]string{q.Prompts[i]}, 1)
		if err != nil {
			return nil, err
		}
		post := map[string]*ort.Tensor{"mean": {}, "logvar": {}}
		if err := p.encoder.Run(ctx, map[string]ort.Tensor{
			"sample":    {Shape: []int64{1, 3, int64(s), int64(s)}, F32: x},
			"condition": {Shape: []int64{1, int64(c.ConditionSize)}, F32: cond},
		}, post); err != nil {
			return nil, fmt.Errorf("pipeline: encoder: %w", err)
		}
		mean, logvar := post["mean"].F32, post["logvar"].F32
		gen.Randn(eps)
		kl := 0.0
		for j := range zd {
			m, lv := float64(mean[j]), float64(logvar[j])
			kl += 0.5 * (m*m + math.Exp(lv) - 1 - lv)
		}
		var mix *mixture
		if p.prior != nil {
			if mix, err = p.prior.run(ctx, cond, 1); err != nil {
				return nil, err
			}
		}
		for t := range k {
			copy(condK[t*c.ConditionSize:], cond)
			for j := range zd {
				zs[t*zd+j] = mean[j] + float32(math.Exp(0.5*float64(logvar[j])))*eps[t*zd+j]
			}
		}
		out := map[string]*ort.Tensor{"sample": {}}
		if err := p.decoder.Run(ctx, map[string]ort.Tensor{
			"latent":    {Shape: []int64{int64(k), int64(zd)}, F32: zs},
			"condition": {Shape: []int64{int64(k), int64(c.ConditionSize)}, F32: condK},
		}, out); err != nil {
			return nil, fmt.Errorf("pipeline: decoder: %w", err)
		}
		logW := make([]float64, k)
		recon := 0.0
		var logPrior []float64
		if mix != nil {
			logPrior = mix.logProb(zs, k)
		}
		for t := range k {
			lp := discretizedGaussianLogProb(x, out["sample"].F32[t*dims:(t+1)*dims], c.OutputLogStd, s*s)
			recon += lp
			// log p(z) − log q(z|x): with the N(0, I) prior the
			// log 2π terms cancel.
			lw := lp
			for j := range zd {
				e := float64(eps[t*zd+j])
				lw += 0.5*e*e + 0.5*float64(logvar[j]) + 0.5*math.Log(2*math.Pi)
				if mix == nil {
					zj := float64(zs[t*zd+j])
					lw += -0.5*zj*zj - 0.5*math.Log(2*math.Pi)
				}
			}
			if mix != nil {
				lw += logPrior[t]
			}
			logW[t] = lw
		}
		elbo := recon/float64(k) - kl
		if mix != nil {
			// No closed-form KL to a mixture: the ELBO is the mean
			// log weight, and the KL its Monte Carlo estimate.
			elbo = 0
			for _, lw := range logW {
				elbo += lw / float64(k)
			}
			kl = recon/float64(k) - elbo
		}
		iwae := logMeanExp(logW)
		res.ELBOBitsPerDim += -elbo / (float64(dims) * math.Ln2)
		res.IWAEBitsPerDim += -iwae / (float64(dims) * math.Ln2)
		res.KL += kl
	}
	n := float64(len(q.Images))
	res.ELBOBitsPerDim /= n
	res.IWAEBitsPerDim /= n
	res.KL /= n
	return res, nil
}

// discretizedGaussianLogProb is log P(x | mean) of pictures whose channels
// take the 256 values v/127.5 − 1 (CHW, plane pixels per channel), each
// the mass of N(mean, σ_c²) over its bin of width 2/255, the first and
// last bins extending to ∓∞.
func discretizedGaussianLogProb(x, mean []float32, logStd []float64, plane int) float64 {
	const half = 1.0 / 255
	total := 0.0
	for i, xv := range x {
		c := i / plane
		sigma := math.Exp(logStd[c])
		v, m := float64(xv), float64(mean[i])
		lo, hi := (v-half-m)/sigma, (v+half-m)/sigma
		var p float64
		switch {
		case v <= -1+half:
			p = normCDF(hi)
		case v >= 1-half:
			p = normCDF(-lo)
		case lo > 0: // both in the upper tail: subtract the smaller tails
			p = normCDF(-lo) - normCDF(-hi)
		default:
			p = normCDF(hi) - normCDF(lo)
		}
		if p < 1e-300 || math.IsNaN(p) {
			// Far in a tail: the density at the bin's centre times its width.
			d := (v - m) / sigma
			total += -0.5*d*d - math.Log(sigma) - 0.5*math.Log(2*math.Pi) + math.Log(2*half)
			continue
		}
		total += math.Log(p)
	}
	return total
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func logMeanExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s/float64(len(v)))
}

// LikelihoodRequest asks for bits/dim bounds of pictures under a model
// with a likelihood (Pipeline.Likelihood).
type LikelihoodRequest struct {
	// Images are the pictures (the model's size); Prompts their captions,
	// one per picture, which condition the model ("" = unconditional).
	Images  []image.Image
	Prompts []string
	// Samples is the number of importance samples k (0 = 1).
	Samples int
	Seed    uint64
}

func (q *LikelihoodRequest) validate() error {
	if len(q.Images) == 0 {
		return badRequest("no pictures to score")
	}
	if len(q.Prompts) != len(q.Images) {
		return badRequest("%d prompts for %d pictures: give one per picture", len(q.Prompts), len(q.Images))
	}
	if q.Samples < 0 || q.Samples > 4096 {
		return badRequest("importance samples must be in 1..4096, got %d", q.Samples)
	}
	if q.Samples == 0 {
		q.Samples = 1
	}
	return nil
}

// LikelihoodResult holds bounds on the negative log-likelihood in bits per
// dimension (per channel of each pixel), averaged over the pictures: the
// lower the better, and the true value is at most each bound.
type LikelihoodResult struct {
	Images, Samples int
	ELBOBitsPerDim  float64 // −ELBO / (D ln 2)
	IWAEBitsPerDim  float64 // −IWAE_k / (D ln 2); equals the ELBO's estimate at k = 1
	KL              float64 // mean KL(q(z|x) ‖ p(z)) in nats
	// Exact says the model's likelihood is exact (an autoregressive
	// family): ELBO and IWAE then both hold −log₂ P(x) / D.
	Exact bool
}

// likelihoodFamily is implemented by families with a likelihood.
type likelihoodFamily interface {
	likelihood(ctx context.Context, q LikelihoodRequest) (*LikelihoodResult, error)
}

// Likelihood returns bits/dim bounds of the pictures under the model.
// Families without a likelihood return ErrNotSupported.
func (p *Pipeline) Likelihood(ctx context.Context, q LikelihoodRequest) (*LikelihoodResult, error) {
	l, ok := p.impl.(likelihoodFamily)
	if !ok {
		return nil, fmt.Errorf("%w: the %s family has no likelihood", ErrNotSupported, p.family)
	}
	return l.likelihood(ctx, q)
}
