package schedulers

import (
	"fmt"
	"math"
)

// flowMatchEulerDiscrete is FlowMatchEulerDiscreteScheduler: the Euler
// method on the rectified-flow ODE dx/dsigma = v, where the model predicts
// the velocity v = noise - x0 and x_sigma = (1 - sigma) x0 + sigma noise
// (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Esser et al.
// 2024, "Scaling Rectified Flow Transformers" for the shifted schedules SD3
// and Flux use). Timesteps are sigma * num_train_timesteps.
type flowMatchEulerDiscrete struct {
	multistepBase

	// sigmaMin and sigmaMax are the ends of the training schedule after
	// the static shift, in float32 as diffusers computes them at __init__.
	sigmaMin, sigmaMax float64
	noise              []float32
}

func newFlowMatchEulerDiscrete(cfg *Config) (Scheduler, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	s := &flowMatchEulerDiscrete{}
	s.cfg = *cfg
	s.cfg.ClassName = ClassFlowMatchEulerDiscrete
	c := &s.cfg
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: "+format, append([]any{ClassFlowMatchEulerDiscrete, ErrInvalidConfig}, args...)...)
	}
	if c.NumTrainTimesteps < 1 {
		return nil, bad("num_train_timesteps must be positive, got %d", c.NumTrainTimesteps)
	}
	if !(c.Shift > 0) || math.IsInf(c.Shift, 0) {
		return nil, bad("shift must be a positive number, got %v", c.Shift)
	}
	if c.TimeShiftType != "exponential" && c.TimeShiftType != "linear" {
		return nil, bad("time_shift_type %q (want exponential or linear)", c.TimeShiftType)
	}
	if _, err := sigmaScheduleKind(c); err != nil {
		return nil, fmt.Errorf("%s: %w", ClassFlowMatchEulerDiscrete, err)
	}
	s.flow = true
	// __init__: sigmas = t/N for t = N..1 in float32, statically shifted
	// unless the shift is dynamic.
	N := c.NumTrainTimesteps
	lo := float32(1) / float32(N)
	if !c.UseDynamicShift {
		sh := float32(c.Shift)
		lo = sh * lo / (1 + float32(c.Shift-1)*lo)
		s.sigmaMax = float64(sh * 1 / (1 + float32(c.Shift-1)*1))
	} else {
		s.sigmaMax = 1
	}
	s.sigmaMin = float64(lo)
	return s, nil
}

// CalculateShift returns the dynamic-shifting mu that the Flux and SD3
// pipelines pass to SetTimesteps: a linear map of the image token count
// from (baseSeqLen, baseShift) to (maxSeqLen, maxShift). For Flux,
// imageSeqLen is the number of packed latent tokens,
// (height/(2f)) * (width/(2f)) for a VAE that downsamples by
// f = 2^(len(block_out_channels)-1) (8 for the released models, so one
// token per 16x16 pixels) and 2x2 packing.
func CalculateShift(imageSeqLen int, baseSeqLen, maxSeqLen int, baseShift, maxShift float64) float64 {
	m := (maxShift - baseShift) / float64(maxSeqLen-baseSeqLen)
	b := baseShift - m*float64(baseSeqLen)
	return float64(imageSeqLen)*m + b
}

// SetTimesteps builds the shifted sigma schedule. With p.Sigmas it shifts
// the given sigmas (Flux passes linspace(1, 1/steps, steps)); otherwise
// it spaces steps timesteps evenly between the shifted training ends. With
// use_dynamic_shifting, p.Mu is required.
func (s *flowMatchEulerDiscrete) SetTimesteps(p TimestepParams) error {
	c := &s.cfg
	wrap := func(err error) error { return fmt.Errorf("%s: %w", ClassFlowMatchEulerDiscrete, err) }
	if err := s.reset(p); err != nil {
		return wrap(err)
	}
	if c.UseDynamicShift && p.Mu == nil {
		return wrap(fmt.Errorf("%w: use_dynamic_shifting needs mu", ErrInvalidConfig))
	}
	n := p.Steps
	if len(p.Sigmas) > 0 {
		if n != 0 && n != len(p.Sigmas) {
			return wrap(fmt.Errorf("%w: %d steps but %d sigmas", ErrInvalidSteps, n, len(p.Sigmas)))
		}
		n = len(p.Sigmas)
	}
	if n < 1 {
		return wrap(fmt.Errorf("%w: %d (need at least 1)", ErrInvalidSteps, n))
	}
	N := float64(c.NumTrainTimesteps)
	sigmas := make([]float64, n)
	if len(p.Sigmas) > 0 {
		for i, v := range p.Sigmas {
			if !(v >= 0 && v <= 1) {
				return wrap(fmt.Errorf("%w: sigma %v outside [0, 1]", ErrBadInput, v))
			}
			sigmas[i] = float32ish(v)
		}
	} else {
		for i := range sigmas {
			sigmas[i] = npLinspaceAt(s.sigmaMax*N, s.sigmaMin*N, n, i) / N
		}
	}
	if err := shiftFlowSigmas(sigmas, c, c.Shift, p.Mu); err != nil {
		return wrap(err)
	}
	if kind, _ := sigmaScheduleKind(c); kind != "" {
		sigmas = convertSigmas(kind, sigmas[n-1], sigmas[0], n)
	}
	float32s(sigmas)
	ts := make([]float64, n)
	final := 0.0
	for i, v := range sigmas {
		if c.InvertSigmas {
			v = float32ish(1 - v)
			sigmas[i] = v
		}
		ts[i] = float64(float32(v) * float32(N))
	}
	if c.InvertSigmas {
		final = 1
	}
	s.sigmas = append(sigmas, final)
	s.timesteps = ts
	return nil
}

// ScaleModelInput copies the sample: flow models take it unscaled.
func (s *flowMatchEulerDiscrete) ScaleModelInput(dst, sample []float32, i int) { copy(dst, sample) }

// AddNoise is diffusers' scale_noise: sigma*noise + (1 - sigma)*original at
// the sigma of timestep t (the nearest listed timestep when t is not
// listed).
func (s *flowMatchEulerDiscrete) AddNoise(dst, original, noise []float32, t float64) {
	if len(s.timesteps) == 0 {
		copy(dst, original)
		return
	}
	sg := float32(s.sigmas[nearestTimestep(s.timesteps, t)])
	for j := range dst {
		dst[j] = sg*noise[j] + (1-sg)*original[j]
	}
}

// Step moves from sigmas[i] to sigmas[i+1]: x + (sigma_next - sigma) v, or
// with stochastic_sampling re-noises the predicted x0 to sigma_next with a
// fresh draw.
func (s *flowMatchEulerDiscrete) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.checkStep(dst, modelOutput, sample, i, 1); err != nil {
		return err
	}
	sigma, next := float32(s.sigmas[i]), float32(s.sigmas[i+1])
	if s.cfg.StochasticSampler {
		if noise == nil {
			return fmt.Errorf("%s: %w: stochastic_sampling needs a Noise source", ClassFlowMatchEulerDiscrete, ErrBadInput)
		}
		s.noise = growTo(s.noise, len(sample))
		noise.Randn(s.noise)
		for j, x := range sample {
			x0 := x - sigma*modelOutput[j]
			dst[j] = (1-next)*x0 + next*s.noise[j]
		}
	} else {
		dt := next - sigma
		for j, x := range sample {
			dst[j] = x + dt*modelOutput[j]
		}
	}
	// No history: any evaluation may follow any other, so s.prev stays -1.
	return nil
}
