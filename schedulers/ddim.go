package schedulers

import (
	"fmt"
	"math"
)

// ddim is DDIMScheduler: Song et al. 2020, "Denoising Diffusion Implicit
// Models", eq. 12, with η taken from TimestepParams.Eta (0 = deterministic).
type ddim struct {
	alphaBase
	steps int
	eta   float64
}

func newDDIM(cfg *Config) (Scheduler, error) {
	b, err := newAlphaBase(cfg, ClassDDIM)
	if err != nil {
		return nil, err
	}
	return &ddim{alphaBase: b}, nil
}

// SetTimesteps picks the inference timesteps by timestep_spacing and
// records η.
func (s *ddim) SetTimesteps(p TimestepParams) error {
	if err := s.setBatch(p); err != nil {
		return err
	}
	if p.Eta < 0 || math.IsNaN(p.Eta) || math.IsInf(p.Eta, 0) {
		return fmt.Errorf("%s: %w: eta %v must be a finite number >= 0", ClassDDIM, ErrInvalidConfig, p.Eta)
	}
	ts, err := spacedTimesteps(&s.cfg, p.Steps, true)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassDDIM, err)
	}
	s.timesteps, s.steps, s.eta = ts, p.Steps, p.Eta
	return nil
}

// Step applies eq. 12. As in diffusers, the previous timestep is always
// t - num_train_timesteps/steps, whatever the spacing.
func (s *ddim) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.prepare(dst, modelOutput, sample, i); err != nil {
		return err
	}
	t := int(s.timesteps[i])
	prevT := t - s.cfg.NumTrainTimesteps/s.steps
	aT, aPrev := s.ac[t], s.alphaAt(prevT, s.finalAlpha())
	bT, bPrev := 1-aT, 1-aPrev

	variance := bPrev / bT * (1 - aT/aPrev)
	std := s.eta * math.Sqrt(variance)
	cx0 := sqrt32(aPrev)
	cdir := sqrt32(1 - aPrev - std*std)

	predictX0(&s.cfg, s.x0, sample, modelOutput, math.Sqrt(aT), math.Sqrt(bT), s.batch, s.scratch)
	es, eo := epsCoefs(s.cfg.PredictionType, math.Sqrt(aT), math.Sqrt(bT))
	for k, x0 := range s.x0 {
		dst[k] = cx0*x0 + cdir*(es*sample[k]+eo*modelOutput[k])
	}
	if s.eta <= 0 {
		return nil
	}
	z, err := s.drawNoise(len(sample), noise)
	if err != nil {
		return err
	}
	std32 := float32(std)
	for k := range dst {
		dst[k] += std32 * z[k]
	}
	return nil
}
