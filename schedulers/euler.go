package schedulers

import (
	"fmt"
	"math"
)

// euler is EulerDiscreteScheduler: the Euler method on the probability-flow
// ODE dx/dsigma = (x - x0(x, sigma)) / sigma (Karras et al. 2022, "Elucidating
// the Design Space of Diffusion-Based Generative Models", Algorithm 2 with
// S_churn = 0, which is what diffusers' pipelines use).
type euler struct{ sigmaBase }

func newEuler(cfg *Config) (Scheduler, error) {
	b, err := newSigmaBase(cfg, ClassEuler)
	if err != nil {
		return nil, err
	}
	return &euler{b}, nil
}

// SetTimesteps builds the sigma schedule the config describes.
func (s *euler) SetTimesteps(p TimestepParams) error {
	if len(p.Sigmas) > 0 {
		return fmt.Errorf("%s: %w: custom sigmas are only for flow-matching schedulers", ClassEuler, ErrInvalidConfig)
	}
	ts, err := spacedTimesteps(&s.cfg, p.Steps, false)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassEuler, err)
	}
	sigmas, ts, err := s.inferenceSigmas(ts)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassEuler, err)
	}
	sigmas = append(sigmas, s.finalSigma())
	for i, v := range sigmas {
		sigmas[i] = float32ish(v)
	}
	if s.cfg.TimestepType == "continuous" && s.cfg.PredictionType == PredictV {
		// Continuous-time v models take c_noise = log(sigma) / 4.
		ts = make([]float64, len(sigmas)-1)
		for i := range ts {
			ts[i] = float32ish(0.25 * math.Log(sigmas[i]))
		}
	}
	s.sigmas, s.timesteps = sigmas, ts
	return nil
}

// Step moves from sigma_i to sigma_{i+1} along the ODE's derivative.
func (s *euler) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := checkStepInput(dst, modelOutput, sample, i, len(s.timesteps)); err != nil {
		return fmt.Errorf("%s: %w", ClassEuler, err)
	}
	sg := float32(s.sigmas[i])
	dt := float32(s.sigmas[i+1]) - sg
	switch s.cfg.PredictionType {
	case PredictV:
		cOut := -sg / float32(math.Sqrt(float64(sg*sg+1)))
		cIn := sg*sg + 1
		for k, x := range sample {
			x0 := modelOutput[k]*cOut + x/cIn
			dst[k] = x + (x-x0)/sg*dt
		}
	case PredictSample:
		for k, x := range sample {
			dst[k] = x + (x-modelOutput[k])/sg*dt
		}
	default:
		for k, x := range sample {
			x0 := x - sg*modelOutput[k]
			dst[k] = x + (x-x0)/sg*dt
		}
	}
	return nil
}
