package schedulers

import (
	"fmt"
	"math"
	"slices"
)

// pndm is PNDMScheduler: the pseudo numerical methods of Liu et al. 2022,
// "Pseudo Numerical Methods for Diffusion Models on Manifolds". With
// skip_prk_steps it is PLMS (linear multistep, orders ramping 1-4 with a
// Heun-like second evaluation at the start); otherwise three pseudo
// Runge-Kutta steps (12 evaluations) warm up the history first.
//
// Like diffusers it counts its own steps: the history belongs to the run,
// whatever index the pipeline starts at.
type pndm struct {
	alphaBase
	steps   int
	prk     int // number of PRK evaluations at the front of timesteps
	counter int

	ets        [4][]float32 // last model outputs, oldest first
	nEts       int
	curSample  []float32
	hasCur     bool
	curOut     []float32 // PRK running weighted sum
	combined   []float32
	stepOffset int // num_train_timesteps / steps
}

func newPNDM(cfg *Config) (Scheduler, error) {
	b, err := newAlphaBase(cfg, ClassPNDM)
	if err != nil {
		return nil, err
	}
	return &pndm{alphaBase: b}, nil
}

const pndmOrder = 4

// SetTimesteps builds the PRK and PLMS timesteps and clears the history.
func (s *pndm) SetTimesteps(p TimestepParams) error {
	if err := s.setBatch(p); err != nil {
		return err
	}
	desc, err := spacedTimesteps(&s.cfg, p.Steps, true)
	if err != nil {
		return fmt.Errorf("%s: %w", ClassPNDM, err)
	}
	asc := slices.Clone(desc)
	slices.Reverse(asc)
	n := p.Steps
	var ts []float64
	if s.cfg.SkipPRKSteps {
		// PLMS: the second-highest timestep twice, for the warm-up
		// evaluation at t - ratio followed by the corrected step.
		ts = append(ts, asc[:n-1]...)
		if n >= 2 {
			ts = append(ts, asc[n-2])
		}
		ts = append(ts, asc[n-1])
		slices.Reverse(ts)
		s.prk = 0
	} else {
		if n < pndmOrder {
			return fmt.Errorf("%s: %w: %d steps; Runge-Kutta warm-up needs at least %d (or skip_prk_steps)", ClassPNDM, ErrInvalidSteps, n, pndmOrder)
		}
		half := float64(s.cfg.NumTrainTimesteps / n / 2)
		var rk []float64 // each of the last 4 timesteps at t and t + half
		for _, t := range asc[n-pndmOrder:] {
			rk = append(rk, t, t+half)
		}
		// Drop the last, double every entry, then trim both ends.
		var doubled []float64
		for _, t := range rk[:len(rk)-1] {
			doubled = append(doubled, t, t)
		}
		prk := doubled[1 : len(doubled)-1]
		slices.Reverse(prk)
		plms := slices.Clone(asc[:n-3])
		slices.Reverse(plms)
		ts = append(prk, plms...)
		s.prk = len(prk)
	}
	s.timesteps, s.steps = ts, n
	s.stepOffset = s.cfg.NumTrainTimesteps / n
	s.counter, s.nEts, s.hasCur = 0, 0, false
	return nil
}

// Step advances by one PRK or PLMS evaluation.
func (s *pndm) Step(dst, modelOutput, sample []float32, i int, noise Noise) error {
	if err := s.prepare(dst, modelOutput, sample, i); err != nil {
		return err
	}
	n := len(sample)
	s.curSample = growTo(s.curSample, n)
	s.combined = growTo(s.combined, n)
	t := int(s.timesteps[i])
	if s.counter < s.prk && !s.cfg.SkipPRKSteps {
		s.stepPRK(dst, modelOutput, sample, t)
	} else if err := s.stepPLMS(dst, modelOutput, sample, t); err != nil {
		return err
	}
	s.counter++
	return nil
}

func (s *pndm) pushEts(out []float32) {
	if s.nEts == len(s.ets) {
		oldest := s.ets[0]
		copy(s.ets[:], s.ets[1:])
		s.ets[len(s.ets)-1] = oldest
		s.nEts--
	}
	s.ets[s.nEts] = growTo(s.ets[s.nEts], len(out))
	copy(s.ets[s.nEts], out)
	s.nEts++
}

// et returns the k-th newest stored model output (1 = newest).
func (s *pndm) et(k int) []float32 { return s.ets[s.nEts-k] }

func (s *pndm) stepPRK(dst, out, sample []float32, t int) {
	diff := s.stepOffset / 2
	if s.counter%2 == 1 {
		diff = 0
	}
	prevT := t - diff
	t = int(s.timesteps[s.counter/4*4])
	s.curOut = growTo(s.curOut, len(out))
	cur := s.curOut
	model := out
	switch s.counter % 4 {
	case 0:
		for k, v := range out {
			cur[k] = float32(1.0/6) * v
		}
		s.pushEts(out)
		copy(s.curSample, sample)
		s.hasCur = true
	case 1, 2:
		for k, v := range out {
			cur[k] += float32(1.0/3) * v
		}
	case 3:
		for k, v := range out {
			cur[k] += float32(1.0/6) * v
		}
		model = cur
	}
	x := sample
	if s.hasCur {
		x = s.curSample
	}
	s.prevSample(dst, x, model, t, prevT)
}

func (s *pndm) stepPLMS(dst, out, sample []float32, t int) error {
	if !s.cfg.SkipPRKSteps && s.nEts < 3 {
		return fmt.Errorf("%s: %w: PLMS step before the Runge-Kutta warm-up", ClassPNDM, ErrBadInput)
	}
	prevT := t - s.stepOffset
	if s.counter != 1 {
		s.pushEts(out)
	} else {
		prevT = t
		t += s.stepOffset
	}
	c := s.combined
	x := sample
	switch {
	case s.nEts == 1 && s.counter == 0:
		copy(c, out)
		copy(s.curSample, sample)
		s.hasCur = true
	case s.nEts == 1 && s.counter == 1:
		e1 := s.et(1)
		for k, v := range out {
			c[k] = (v + e1[k]) / 2
		}
		x = s.curSample
		s.hasCur = false
	case s.nEts == 2:
		e1, e2 := s.et(1), s.et(2)
		for k := range c {
			c[k] = (3*e1[k] - e2[k]) / 2
		}
	case s.nEts == 3:
		e1, e2, e3 := s.et(1), s.et(2), s.et(3)
		for k := range c {
			c[k] = (23*e1[k] - 16*e2[k] + 5*e3[k]) / 12
		}
	default:
		e1, e2, e3, e4 := s.et(1), s.et(2), s.et(3), s.et(4)
		for k := range c {
			c[k] = float32(1.0/24) * (55*e1[k] - 59*e2[k] + 37*e3[k] - 9*e4[k])
		}
	}
	s.prevSample(dst, x, c, t, prevT)
	return nil
}

// prevSample is the transfer step phi of PNDM, eq. 11, from t to prevT.
func (s *pndm) prevSample(dst, sample, out []float32, t, prevT int) {
	aT, aPrev := s.ac[t], s.alphaAt(prevT, s.finalAlpha())
	bT, bPrev := 1-aT, 1-aPrev
	sa, sb := sqrt32(aT), sqrt32(bT)
	cs := sqrt32(aPrev / aT)
	denom := aT*math.Sqrt(bPrev) + math.Sqrt(aT*bT*aPrev)
	co := float32((aPrev - aT) / denom)
	v := s.cfg.PredictionType == PredictV
	for k := range dst {
		e := out[k]
		if v {
			e = sa*e + sb*sample[k]
		}
		dst[k] = cs*sample[k] - co*e
	}
}
