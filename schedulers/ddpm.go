package schedulers

import (
	"fmt"
	"math"
)

// DDPM variance types (the variance_type key of DDPMScheduler).
const (
	VarianceFixedSmall    = "fixed_small"
	VarianceFixedSmallLog = "fixed_small_log"
	VarianceFixedLarge    = "fixed_large"
	VarianceLearned       = "learned"
	VarianceLearnedRange  = "learned_range"
)

// ddpm is DDPMScheduler: ancestral sampling of Ho et al. 2020, "Denoising
// Diffusion Probabilistic Models", eq. 7 (posterior mean and variance of
// q(x_{t-1} | x_t, x_0)).
type ddpm struct {
	alphaBase
	out, predVar []float32 // learned variance: the two halves of the output
}

func newDDPM(cfg *Config) (Scheduler, error) {
	b, err := newAlphaBase(cfg, ClassDDPM)
	if err != nil {
		return nil, err
	}
	return &ddpm{alphaBase: b}, nil
}

func (s *ddpm) variance() string {
	if s.cfg.VarianceType == nil {
		return VarianceFixedSmall
	}
	return *s.cfg.VarianceType
}

// SetTimesteps picks the inference timesteps by timestep_spacing.
func (s *ddpm) SetTimesteps(p TimestepParams) error {
	if err := s.setBatch(p); err != nil {
		return err
	}
	ts, err := spacedTimesteps(&s.cfg, p.Steps, true)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassDDPM, err)
	}
	s.timesteps = ts
	return nil
}

// Step draws x_{t-1} from the posterior given the predicted x_0. With a
// learned variance the model output holds twice the sample's channels:
// the prediction, then the variance interpolation value.
func (s *ddpm) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	out, predVar, err := s.splitVariance(modelOutput, sample)
	if err != nil {
		return err
	}
	if err := s.prepare(dst, out, sample, i); err != nil {
		return err
	}
	t := int(s.timesteps[i])
	prevT := -1
	if i+1 < len(s.timesteps) {
		prevT = int(s.timesteps[i+1])
	}
	aT, aPrev := s.ac[t], s.alphaAt(prevT, 1)
	bT, bPrev := 1-aT, 1-aPrev
	curA := aT / aPrev
	curB := 1 - curA

	predictX0(&s.cfg, s.x0, sample, out, math.Sqrt(aT), math.Sqrt(bT), s.batch, s.scratch)
	cx0 := float32(math.Sqrt(aPrev) * curB / bT)
	cxt := float32(math.Sqrt(curA) * bPrev / bT)
	for k := range dst {
		dst[k] = cx0*s.x0[k] + cxt*sample[k]
	}
	if t <= 0 {
		return nil
	}
	z, err := s.drawNoise(len(sample), noise)
	if err != nil {
		return err
	}
	// Posterior variance beta~_t (eq. 7), floored as diffusers does.
	v := max(bPrev/bT*curB, 1e-20)
	switch s.variance() {
	case VarianceFixedLarge:
		std := sqrt32(curB)
		for k := range dst {
			dst[k] += std * z[k]
		}
	case VarianceLearned:
		for k := range dst {
			dst[k] += float32(math.Sqrt(float64(predVar[k]))) * z[k]
		}
	case VarianceLearnedRange:
		minLog, maxLog := math.Log(v), math.Log(curB)
		for k := range dst {
			frac := (float64(predVar[k]) + 1) / 2
			dst[k] += float32(math.Exp(0.5*(frac*maxLog+(1-frac)*minLog))) * z[k]
		}
	default: // fixed_small, fixed_small_log: both scale by sqrt(beta~_t).
		std := sqrt32(v)
		for k := range dst {
			dst[k] += std * z[k]
		}
	}
	return nil
}

// splitVariance separates a learned-variance model output, [B, 2C, ...]
// holding C prediction channels then C variance channels per sample, into
// two buffers. Other outputs pass through unchanged.
func (s *ddpm) splitVariance(modelOutput, sample []float32) (out, predVar []float32, err error) {
	v := s.variance()
	if v != VarianceLearned && v != VarianceLearnedRange {
		return modelOutput, nil, nil
	}
	if len(modelOutput) != 2*len(sample) || len(sample)%s.batch != 0 {
		return nil, nil, fmt.Errorf("%s: %w: variance_type %s needs a model output with twice the sample's channels, got %d values for %d", ClassDDPM, ErrBadInput, v, len(modelOutput), len(sample))
	}
	n, per := len(sample), len(sample)/s.batch
	s.out, s.predVar = growTo(s.out, n), growTo(s.predVar, n)
	for b := range s.batch {
		copy(s.out[b*per:(b+1)*per], modelOutput[2*b*per:(2*b+1)*per])
		copy(s.predVar[b*per:(b+1)*per], modelOutput[(2*b+1)*per:(2*b+2)*per])
	}
	return s.out, s.predVar, nil
}
