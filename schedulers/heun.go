package schedulers

import (
	"fmt"
	"math"
)

// heunDiscrete is HeunDiscreteScheduler: Heun's second-order method on the
// probability-flow ODE (Karras et al. 2022, "Elucidating the Design Space of
// Diffusion-Based Generative Models", Algorithm 1). Each step takes two
// model evaluations: an Euler predictor from sigma_i to sigma_{i+1}, then a
// corrector that averages the derivatives at both ends. The timesteps list
// every inner timestep twice, as diffusers does; the last step is a plain
// Euler step to sigma = 0.
type heunDiscrete struct {
	multistepBase

	trainSigmas, logSigmas []float64

	// State between the two evaluations of a step: the derivative and the
	// step size of the predictor, and the sample it started from.
	deriv, start []float32
	dt           float32
}

func newHeunDiscrete(cfg *Config) (Scheduler, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	s := &heunDiscrete{}
	s.cfg = *cfg
	s.cfg.ClassName = ClassHeun
	c := &s.cfg
	switch c.PredictionType {
	case PredictEpsilon, PredictV, PredictSample:
	default:
		return nil, fmt.Errorf("%s: %w: prediction_type %q (want epsilon, v_prediction or sample)", ClassHeun, ErrInvalidConfig, c.PredictionType)
	}
	if _, err := sigmaScheduleKind(c); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassHeun, err)
	}
	if err := checkSpacing(c.TimestepSpacing); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassHeun, err)
	}
	// Heun has no rescale_betas_zero_snr key: a value carried in the union
	// config must not change its schedule.
	plain := *c
	plain.RescaleBetasZeroSNR = false
	ac, err := alphasCumprod(&plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", ClassHeun, ErrInvalidConfig, err)
	}
	s.trainSigmas = torchSigmas(ac)
	s.logSigmas = float32Log(s.trainSigmas)
	return s, nil
}

// Order is 2: img2img trims twice the skipped steps from Timesteps.
func (s *heunDiscrete) Order() int { return 2 }

// SetTimesteps builds sigma_0..sigma_{n-1}, 0 and lists each inner one
// twice.
func (s *heunDiscrete) SetTimesteps(p TimestepParams) error {
	c := &s.cfg
	wrap := func(err error) error { return fmt.Errorf("%s: %w", ClassHeun, err) }
	if err := s.reset(p); err != nil {
		return wrap(err)
	}
	if len(p.Sigmas) > 0 {
		return wrap(fmt.Errorf("%w: custom sigmas are only for flow-matching schedulers", ErrInvalidConfig))
	}
	n := p.Steps
	ts, err := spacedTimesteps(c, n, false)
	if err != nil {
		return wrap(err)
	}
	sigmas := make([]float64, n)
	for i, t := range ts {
		sigmas[i] = npInterpUnit(t, s.trainSigmas)
	}
	if kind, _ := sigmaScheduleKind(c); kind != "" {
		// Heun's config has no sigma_min/sigma_max: the range is that of
		// the interpolated schedule.
		sigmas = convertSigmas(kind, sigmas[n-1], sigmas[0], n)
		for i, sg := range sigmas {
			ts[i] = float32ish(sigmaToT(sg, s.logSigmas))
		}
	}
	sigmas = float32s(append(sigmas, 0))
	s.sigmas = make([]float64, 0, 2*n)
	s.timesteps = make([]float64, 0, 2*n-1)
	s.sigmas = append(s.sigmas, sigmas[0])
	s.timesteps = append(s.timesteps, ts[0])
	for k := 1; k < n; k++ {
		s.sigmas = append(s.sigmas, sigmas[k], sigmas[k])
		s.timesteps = append(s.timesteps, ts[k], ts[k])
	}
	s.sigmas = append(s.sigmas, 0)
	return nil
}

// InitNoiseSigma is the largest sigma for linspace and trailing spacing and
// sqrt(sigma_max^2 + 1) for leading.
func (s *heunDiscrete) InitNoiseSigma() float64 {
	m := float32(0)
	for _, v := range s.sigmas {
		m = max(m, float32(v))
	}
	if s.cfg.TimestepSpacing == SpacingLinspace || s.cfg.TimestepSpacing == SpacingTrailing {
		return float64(m)
	}
	return float64(float32(math.Sqrt(float64(m*m + 1))))
}

// ScaleModelInput divides the sample by sqrt(sigma^2 + 1) at evaluation i.
func (s *heunDiscrete) ScaleModelInput(dst, sample []float32, i int) {
	scaleBySigma(dst, sample, s.sigmas, i)
}

// AddNoise writes original + sigma*noise at the sigma of timestep t (the
// nearest listed timestep when t is not listed).
func (s *heunDiscrete) AddNoise(dst, original, noise []float32, t float64) {
	addNoiseAtSigma(dst, original, noise, s.timesteps, s.sigmas, t)
}

// Step runs the predictor at even evaluations and the corrector at odd
// ones.
func (s *heunDiscrete) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.checkStep(dst, modelOutput, sample, i, 1); err != nil {
		return err
	}
	first := i%2 == 0
	var sigma, next float32
	if first {
		sigma, next = float32(s.sigmas[i]), float32(s.sigmas[i+1])
	} else {
		sigma, next = float32(s.sigmas[i-1]), float32(s.sigmas[i])
	}
	// sigma_input: the predictor denoises at sigma, the corrector at the
	// sigma it stepped to.
	in := sigma
	if !first {
		in = next
	}
	s.deriv = growTo(s.deriv, len(sample))
	s.start = growTo(s.start, len(sample))
	pt := s.cfg.PredictionType
	clip := s.cfg.ClipSample
	r := float32(s.cfg.ClipSampleRange)
	cOut := -in / float32(math.Sqrt(float64(in*in+1)))
	cIn := in*in + 1
	for j, x := range sample {
		var x0 float32
		switch pt {
		case PredictV:
			x0 = modelOutput[j]*cOut + x/cIn
		case PredictSample:
			x0 = modelOutput[j]
		default:
			x0 = x - in*modelOutput[j]
		}
		if clip {
			x0 = min(max(x0, -r), r)
		}
		if first {
			d := (x - x0) / sigma
			s.deriv[j] = d
			s.start[j] = x
			dst[j] = x + d*(next-sigma)
		} else {
			d := (s.deriv[j] + (x-x0)/next) / 2
			dst[j] = s.start[j] + d*s.dt
		}
	}
	if first {
		s.dt = next - sigma
	}
	s.prev = i
	return nil
}
