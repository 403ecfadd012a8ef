package schedulers

import (
	"fmt"
	"math"
)

// eulerAncestral is EulerAncestralDiscreteScheduler: an Euler step down to
// sigma_down followed by fresh noise of size sigma_up, so that the marginal
// at sigma_{i+1} is right (k-diffusion's sample_euler_ancestral, eta = 1;
// Song et al. 2021, ancestral sampling of the reverse SDE).
type eulerAncestral struct{ sigmaBase }

func newEulerAncestral(cfg *Config) (Scheduler, error) {
	b, err := newSigmaBase(cfg, ClassEulerAncestral)
	if err != nil {
		return nil, err
	}
	return &eulerAncestral{b}, nil
}

// SetTimesteps interpolates the training sigmas at the spaced timesteps.
func (s *eulerAncestral) SetTimesteps(p TimestepParams) error {
	if len(p.Sigmas) > 0 {
		return fmt.Errorf("%s: %w: custom sigmas are only for flow-matching schedulers", ClassEulerAncestral, ErrInvalidConfig)
	}
	ts, err := spacedTimesteps(&s.cfg, p.Steps, false)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassEulerAncestral, err)
	}
	sigmas := make([]float64, len(ts)+1)
	for i, t := range ts {
		sigmas[i] = float32ish(npInterp(t, s.trainSigmas))
	}
	s.sigmas, s.timesteps = sigmas, ts
	return nil
}

// Step draws noise on every step, the last included, as diffusers does, so
// that the generator stream stays aligned.
func (s *eulerAncestral) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := checkStepInput(dst, modelOutput, sample, i, len(s.timesteps)); err != nil {
		return fmt.Errorf("%s: %w", ClassEulerAncestral, err)
	}
	z, err := s.drawNoise(len(sample), noise)
	if err != nil {
		return err
	}
	from, to := float32(s.sigmas[i]), float32(s.sigmas[i+1])
	up := float32(math.Sqrt(float64(to * to * (from*from - to*to) / (from * from))))
	down := float32(math.Sqrt(float64(max(to*to-up*up, 0))))
	dt := down - from
	if s.cfg.PredictionType == PredictV {
		cOut := -from / float32(math.Sqrt(float64(from*from+1)))
		cIn := from*from + 1
		for k, x := range sample {
			x0 := modelOutput[k]*cOut + x/cIn
			dst[k] = x + (x-x0)/from*dt + z[k]*up
		}
		return nil
	}
	for k, x := range sample {
		x0 := x - from*modelOutput[k]
		dst[k] = x + (x-x0)/from*dt + z[k]*up
	}
	return nil
}
