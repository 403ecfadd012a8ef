package schedulers

import (
	"fmt"
	"math"
)

// lcm is LCMScheduler: multistep consistency sampling of Luo et al. 2023,
// "Latent Consistency Models" (Algorithm 1). Each step maps x_t to the
// boundary-conditioned clean estimate, then re-noises it to the next
// timestep with fresh noise; the last step returns the estimate itself.
type lcm struct {
	alphaBase
	steps int
}

func newLCM(cfg *Config) (Scheduler, error) {
	b, err := newAlphaBase(cfg, ClassLCM)
	if err != nil {
		return nil, err
	}
	return &lcm{alphaBase: b}, nil
}

// lcmSigmaData is the data standard deviation of the consistency-model
// boundary condition (Song et al. 2023, appendix C).
const lcmSigmaData = 0.5

// SetTimesteps picks steps timesteps, evenly by index, from the
// original_inference_steps skipped schedule; Strength below 1 keeps only
// the low-noise part of it (LCM img2img).
func (s *lcm) SetTimesteps(p TimestepParams) error {
	if err := s.setBatch(p); err != nil {
		return err
	}
	strength := p.Strength
	if strength == 0 {
		strength = 1
	}
	if !(strength > 0 && strength <= 1) {
		return fmt.Errorf("%s: %w: got %v", ClassLCM, ErrInvalidStrength, p.Strength)
	}
	if err := checkSteps(&s.cfg, p.Steps); err != nil {
		return fmt.Errorf("%s: %w", ClassLCM, err)
	}
	orig := s.cfg.OriginalInferenceSteps
	k := s.cfg.NumTrainTimesteps / orig
	nOrigin := int(float64(orig) * strength)
	if p.Steps > nOrigin {
		return fmt.Errorf("%s: %w: %d steps exceed the %d timesteps of original_inference_steps %d at strength %v", ClassLCM, ErrInvalidSteps, p.Steps, nOrigin, orig, strength)
	}
	// Origin timesteps k*j - 1 for j = nOrigin..1 (descending), sampled at
	// floor(linspace(0, nOrigin, steps, endpoint=False)).
	ts := make([]float64, p.Steps)
	stride := float64(nOrigin) / float64(p.Steps)
	for i := range ts {
		idx := int(math.Floor(float64(i) * stride))
		ts[i] = float64((nOrigin-idx)*k - 1)
	}
	s.timesteps, s.steps = ts, p.Steps
	return nil
}

// Step computes the consistency estimate c_skip*x_t + c_out*x0 and, except
// on the last step, noises it to the next timestep.
func (s *lcm) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.prepare(dst, modelOutput, sample, i); err != nil {
		return err
	}
	t := int(s.timesteps[i])
	prevT := t
	if i+1 < len(s.timesteps) {
		prevT = int(s.timesteps[i+1])
	}
	aT, aPrev := s.ac[t], s.alphaAt(prevT, s.finalAlpha())

	scaled := float64(t) * s.cfg.TimestepScaling
	cSkip := float32(lcmSigmaData * lcmSigmaData / (scaled*scaled + lcmSigmaData*lcmSigmaData))
	cOut := float32(scaled / math.Sqrt(scaled*scaled+lcmSigmaData*lcmSigmaData))

	predictX0(&s.cfg, s.x0, sample, modelOutput, math.Sqrt(aT), math.Sqrt(1-aT), s.batch, s.scratch)
	for k, x0 := range s.x0 {
		dst[k] = cOut*x0 + cSkip*sample[k]
	}
	if i == s.steps-1 {
		return nil
	}
	z, err := s.drawNoise(len(sample), noise)
	if err != nil {
		return err
	}
	ca, cb := sqrt32(aPrev), sqrt32(1-aPrev)
	for k := range dst {
		dst[k] = ca*dst[k] + cb*z[k]
	}
	return nil
}
