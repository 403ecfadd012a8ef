package pipeline

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Token sampling for the autoregressive families: classifier-free
// guidance on logits, then temperature, top-k and top-p (nucleus)
// filtering and one uniform draw. The functions work in place on buffers
// the sampling loop owns, so a token costs no allocation.

// tokenSampling holds resolved sampling settings.
type tokenSampling struct {
	temperature float64 // > 0
	topK        int     // 0: off
	topP        float64 // in (0, 1]; 1: off
}

// validate refuses settings that cannot be sampled with.
func (s tokenSampling) validate() error {
	switch {
	case !(s.temperature > 0) || math.IsInf(s.temperature, 0):
		return badRequest("temperature %v: want a finite number > 0", s.temperature)
	case s.topK < 0:
		return badRequest("top-k %d: want 0 (off) or a positive count", s.topK)
	case !(s.topP > 0 && s.topP <= 1):
		return badRequest("top-p %v: want a number in (0, 1]", s.topP)
	}
	return nil
}

// guideLogits writes uncond + scale·(cond − uncond) into cond, the
// classifier-free guidance of Ho & Salimans (2022) applied to next-token
// logits as in Parti (Yu et al., 2022).
func guideLogits(cond, uncond []float32, scale float32) {
	for i := range cond {
		cond[i] = uncond[i] + scale*(cond[i]-uncond[i])
	}
}

// tokenScratch holds one sampler's buffers, sized to the vocabulary.
type tokenScratch struct {
	probs []float64
	order []int
}

func newTokenScratch(vocab int) *tokenScratch {
	return &tokenScratch{probs: make([]float64, vocab), order: make([]int, vocab)}
}

// sampleToken draws a token from logits with s's temperature, top-k and
// top-p, using one uniform number u in [0, 1). Ties keep the lower id
// first, so a seed gives the same token on every machine. Logits that are
// NaN are an error (the model broke), not a token.
func sampleToken(logits []float32, s tokenSampling, u float64, sc *tokenScratch) (int, error) {
	v := len(logits)
	if v == 0 || len(sc.probs) < v {
		return 0, fmt.Errorf("pipeline: sample token: %d logits, scratch for %d", v, len(sc.probs))
	}
	top := math.Inf(-1)
	for i, l := range logits {
		if math.IsNaN(float64(l)) {
			return 0, fmt.Errorf("%w: logit %d is NaN", ErrNaN, i)
		}
		top = math.Max(top, float64(l))
	}
	probs := sc.probs[:v]
	for i, l := range logits {
		probs[i] = math.Exp((float64(l) - top) / s.temperature)
	}
	keep := v
	order := sc.order[:v]
	for i := range order {
		order[i] = i
	}
	if (s.topK > 0 && s.topK < v) || s.topP < 1 {
		slices.SortFunc(order, func(a, b int) int {
			if c := cmp.Compare(probs[b], probs[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		if s.topK > 0 {
			keep = min(keep, s.topK)
		}
		if s.topP < 1 {
			total := 0.0
			for _, i := range order[:keep] {
				total += probs[i]
			}
			// The smallest prefix whose share of the kept mass reaches
			// top-p, at least one token.
			acc := 0.0
			for n, i := range order[:keep] {
				acc += probs[i]
				if acc >= s.topP*total {
					keep = n + 1
					break
				}
			}
		}
	}
	total := 0.0
	for _, i := range order[:keep] {
		total += probs[i]
	}
	target, acc := u*total, 0.0
	for _, i := range order[:keep] {
		acc += probs[i]
		if target < acc {
			return i, nil
		}
	}
	return order[keep-1], nil
}
