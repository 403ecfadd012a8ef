package schedulers

import (
	"fmt"
	"math"
)

// sigmaBase is the state shared by the Euler samplers, which work on the
// noise level sigma = sqrt((1 - ab) / ab) rather than on alphas_cumprod: the
// resolved config, the training sigmas, the inference sigmas (one per
// evaluation plus the final one) and a noise buffer reused across steps.
type sigmaBase struct {
	cfg         Config
	trainSigmas []float64
	logSigmas   []float64
	timesteps   []float64
	sigmas      []float64

	noise []float32
}

func newSigmaBase(cfg *Config, class string) (sigmaBase, error) {
	if cfg == nil {
		return sigmaBase{}, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	c := *cfg
	c.ClassName = class
	if err := c.Validate(); err != nil {
		return sigmaBase{}, err
	}
	ac, err := alphasCumprod(&c)
	if err != nil {
		return sigmaBase{}, fmt.Errorf("%s: %w", class, err)
	}
	ts := torchSigmas(ac)
	return sigmaBase{cfg: c, trainSigmas: ts, logSigmas: float32Log(ts)}, nil
}

// Config returns the resolved configuration; callers must not modify it.
func (b *sigmaBase) Config() *Config { return &b.cfg }

// Timesteps returns the model timestep of each evaluation.
func (b *sigmaBase) Timesteps() []float64 { return b.timesteps }

// Order is 1: one model evaluation per step.
func (b *sigmaBase) Order() int { return 1 }

// InitNoiseSigma is the largest sigma for linspace and trailing spacing and
// sqrt(sigma_max^2 + 1) for leading, as diffusers scales the initial noise.
func (b *sigmaBase) InitNoiseSigma() float64 {
	m := 0.0
	for _, s := range b.sigmas {
		m = math.Max(m, s)
	}
	if b.cfg.TimestepSpacing == SpacingLinspace || b.cfg.TimestepSpacing == SpacingTrailing {
		return m
	}
	return float32ish(math.Sqrt(m*m + 1))
}

// ScaleModelInput divides the sample by sqrt(sigma^2 + 1), the c_in of the
// variance-exploding parametrisation.
func (b *sigmaBase) ScaleModelInput(dst, sample []float32, i int) {
	scaleBySigma(dst, sample, b.sigmas, i)
}

// AddNoise writes original + sigma*noise at the sigma of timestep t.
func (b *sigmaBase) AddNoise(dst, original, noise []float32, t float64) {
	addNoiseAtSigma(dst, original, noise, b.timesteps, b.sigmas, t)
}

// scaleBySigma writes sample / sqrt(sigmas[i]^2 + 1) into dst, computed in
// float32 as diffusers does; an index outside the schedule copies the sample
// (Step reports it).
func scaleBySigma(dst, sample []float32, sigmas []float64, i int) {
	if i < 0 || i >= len(sigmas) {
		copy(dst, sample)
		return
	}
	s := float32(sigmas[i])
	d := float32(math.Sqrt(float64(s*s + 1)))
	for k, x := range sample {
		dst[k] = x / d
	}
}

// addNoiseAtSigma writes original + sigma*noise at the sigma of the listed
// timestep nearest t.
func addNoiseAtSigma(dst, original, noise []float32, timesteps, sigmas []float64, t float64) {
	if len(timesteps) == 0 {
		copy(dst, original)
		return
	}
	s := float32(sigmas[nearestTimestep(timesteps, t)])
	for k := range dst {
		dst[k] = original[k] + noise[k]*s
	}
}

// inferenceSigmas maps spaced timesteps to sigmas by the config's
// interpolation_type and optional karras/exponential/beta schedule; the
// converted schedules come back with their fractional timesteps.
func (b *sigmaBase) inferenceSigmas(ts []float64) ([]float64, []float64, error) {
	n := len(ts)
	var sigmas []float64
	switch b.cfg.InterpolationType {
	case "linear", "":
		sigmas = make([]float64, n)
		for i, t := range ts {
			sigmas[i] = npInterp(t, b.trainSigmas)
		}
	case "log_linear":
		lin := torchLinspace32(math.Log(b.trainSigmas[len(b.trainSigmas)-1]), math.Log(b.trainSigmas[0]), n+1)
		sigmas = make([]float64, n+1)
		for i, v := range lin {
			sigmas[i] = float32ish(math.Exp(v))
		}
	default:
		return nil, nil, fmt.Errorf("%w: unknown interpolation_type %q", ErrInvalidConfig, b.cfg.InterpolationType)
	}
	kind, err := sigmaScheduleKind(&b.cfg)
	if err != nil || kind == "" {
		return sigmas, ts, err
	}
	lo, hi := sigmas[len(sigmas)-1], sigmas[0]
	if b.cfg.SigmaMin != nil {
		lo = *b.cfg.SigmaMin
	}
	if b.cfg.SigmaMax != nil {
		hi = *b.cfg.SigmaMax
	}
	sigmas = convertSigmas(kind, lo, hi, n)
	ts = make([]float64, n)
	for i, s := range sigmas {
		ts[i] = float32ish(sigmaToT(s, b.logSigmas))
	}
	return sigmas, ts, nil
}

// finalSigma is the sigma after the last step: 0, or the smallest training
// sigma with final_sigmas_type "sigma_min".
func (b *sigmaBase) finalSigma() float64 {
	if b.cfg.FinalSigmasType == "sigma_min" {
		return b.trainSigmas[0]
	}
	return 0
}

// drawNoise fills the noise buffer from the generator.
func (b *sigmaBase) drawNoise(n int, noise Noise) ([]float32, error) {
	if noise == nil {
		return nil, fmt.Errorf("%s: %w: a stochastic step needs a Noise source", b.cfg.ClassName, ErrBadInput)
	}
	b.noise = growTo(b.noise, n)
	noise.Randn(b.noise)
	return b.noise, nil
}

// npInterp is np.interp(t, arange(len(table)), table).
func npInterp(t float64, table []float64) float64 { return npInterpUnit(t, table) }

// Sigmas returns the inference sigmas: one per evaluation, then the final
// sigma the last step lands on.
func (b *sigmaBase) Sigmas() []float64 { return b.sigmas }
