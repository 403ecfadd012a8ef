package schedulers

import (
	"fmt"
	"math"
)

// alphaBase is the state shared by the samplers that work on the training
// alphas_cumprod table directly (DDPM, DDIM, PNDM, LCM): the resolved
// config, the table, the inference timesteps and scratch buffers that are
// allocated on the first Step and reused afterwards.
type alphaBase struct {
	cfg       Config
	ac        []float64
	timesteps []float64
	batch     int

	x0, noise, scratch []float32
}

func newAlphaBase(cfg *Config, class string) (alphaBase, error) {
	if cfg == nil {
		return alphaBase{}, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	c := *cfg
	c.ClassName = class
	if err := c.Validate(); err != nil {
		return alphaBase{}, err
	}
	ac, err := rawAlphasCumprod(&c)
	if err != nil {
		return alphaBase{}, fmt.Errorf("%s: %w", class, err)
	}
	return alphaBase{cfg: c, ac: ac}, nil
}

// Config returns the resolved configuration; callers must not modify it.
func (b *alphaBase) Config() *Config { return &b.cfg }

// Timesteps returns the model timestep of each evaluation.
func (b *alphaBase) Timesteps() []float64 { return b.timesteps }

// Order is 1: one model evaluation per step.
func (b *alphaBase) Order() int { return 1 }

// InitNoiseSigma is 1: these samplers start from unit-variance noise.
func (b *alphaBase) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput copies sample: the model sees the latents unscaled.
func (b *alphaBase) ScaleModelInput(dst, sample []float32, i int) { copy(dst, sample) }

// AddNoise writes sqrt(ab_t)*original + sqrt(1-ab_t)*noise, the forward
// process q(x_t | x_0) at training timestep t (rounded to an integer).
func (b *alphaBase) AddNoise(dst, original, noise []float32, t float64) {
	ti := min(max(int(math.Round(t)), 0), len(b.ac)-1)
	a := float32(b.ac[ti])
	sa, sb := float32(math.Sqrt(float64(a))), float32(math.Sqrt(float64(1-a)))
	for i := range dst {
		dst[i] = sa*original[i] + sb*noise[i]
	}
}

// setBatch records how many samples Step's buffers hold.
func (b *alphaBase) setBatch(p TimestepParams) error {
	if p.Batch < 0 {
		return fmt.Errorf("%w: batch %d", ErrBadInput, p.Batch)
	}
	b.batch = max(p.Batch, 1)
	return nil
}

// prepare checks one Step's input and sizes the scratch buffers.
func (b *alphaBase) prepare(dst, out, sample []float32, i int) error {
	if err := checkStepInput(dst, out, sample, i, len(b.timesteps)); err != nil {
		return fmt.Errorf("%s: %w", b.cfg.ClassName, err)
	}
	if len(sample)%b.batch != 0 {
		return fmt.Errorf("%s: %w: %d values do not split into %d samples", b.cfg.ClassName, ErrBadInput, len(sample), b.batch)
	}
	b.x0 = growTo(b.x0, len(sample))
	if b.cfg.Thresholding {
		b.scratch = growTo(b.scratch, len(sample)/b.batch)
	}
	return nil
}

// drawNoise fills the noise buffer from the generator.
func (b *alphaBase) drawNoise(n int, noise Noise) ([]float32, error) {
	if noise == nil {
		return nil, fmt.Errorf("%s: %w: a stochastic step needs a Noise source", b.cfg.ClassName, ErrBadInput)
	}
	b.noise = growTo(b.noise, n)
	noise.Randn(b.noise)
	return b.noise, nil
}

// alphaPrev is alphas_cumprod[t] for t >= 0 and final otherwise.
func (b *alphaBase) alphaAt(t int, final float64) float64 {
	if t < 0 {
		return final
	}
	return b.ac[t]
}

// finalAlpha is final_alpha_cumprod: 1 with set_alpha_to_one, else
// alphas_cumprod[0].
func (b *alphaBase) finalAlpha() float64 {
	if b.cfg.SetAlphaToOne {
		return 1
	}
	return b.ac[0]
}
