package schedulers

import (
	"fmt"
	"math"
)

// Shared per-element math of the alpha-based samplers (DDPM, DDIM, LCM):
// turning a model output into a predicted clean sample, and the clipping
// and dynamic thresholding diffusers applies to it.

// x0Coefs returns (cs, co) with x0 = cs*sample + co*out: the clean-sample
// prediction is linear in the sample and the model output for every
// prediction type, given sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t).
func x0Coefs(pt PredictionType, sqrtA, sqrtB float64) (cs, co float32) {
	switch pt {
	case PredictV:
		return float32(sqrtA), float32(-sqrtB)
	case PredictSample:
		return 0, 1
	default: // epsilon
		return float32(1 / sqrtA), float32(-sqrtB / sqrtA)
	}
}

// epsCoefs returns (cs, co) with eps = cs*sample + co*out, from the raw
// model output (before any clipping of x0, as diffusers computes it).
func epsCoefs(pt PredictionType, sqrtA, sqrtB float64) (cs, co float32) {
	switch pt {
	case PredictV:
		return float32(sqrtB), float32(sqrtA)
	case PredictSample:
		return float32(1 / sqrtB), float32(-sqrtA / sqrtB)
	default:
		return 0, 1
	}
}

// predictX0 writes the clean-sample prediction into x0, then applies
// clip_sample or dynamic thresholding as configured. scratch must hold
// len(x0)/batch values when thresholding.
func predictX0(c *Config, x0, sample, out []float32, sqrtA, sqrtB float64, batch int, scratch []float32) {
	cs, co := x0Coefs(c.PredictionType, sqrtA, sqrtB)
	out = out[:len(x0)]
	sample = sample[:len(x0)]
	if c.ClipSample && !c.Thresholding {
		r := float32(c.ClipSampleRange)
		for k := range x0 {
			x0[k] = min(max(cs*sample[k]+co*out[k], -r), r)
		}
		return
	}
	for k := range x0 {
		x0[k] = cs*sample[k] + co*out[k]
	}
	if c.Thresholding {
		thresholdSample(x0, batch, c.DynamicThresholdingRatio, c.SampleMaxValue, scratch)
	}
}

// thresholdSample is dynamic thresholding (Saharia et al. 2022, "Imagen",
// section 3): per sample, s is the ratio-quantile of |x0| clamped to
// [1, maxValue], and x0 becomes clamp(x0, -s, s) / s.
func thresholdSample(x0 []float32, batch int, ratio, maxValue float64, scratch []float32) {
	per := len(x0) / batch
	for b := range batch {
		x := x0[b*per : (b+1)*per]
		abs := scratch[:per]
		for i, v := range x {
			abs[i] = float32(math.Abs(float64(v)))
		}
		s := float32(min(max(quantile(abs, ratio), 1), maxValue))
		for i, v := range x {
			x[i] = min(max(v, -s), s) / s
		}
	}
}

// quantile is torch.quantile's default linear interpolation between the
// order statistics around q*(n-1). It reorders v (quickselect, O(n)).
func quantile(v []float32, q float64) float64 {
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	a := selectNth(v, lo)
	if lo+1 >= len(v) {
		return float64(a)
	}
	// After selection everything right of lo is >= v[lo]; the next order
	// statistic is their minimum.
	b := v[lo+1]
	for _, x := range v[lo+2:] {
		b = min(b, x)
	}
	return float64(a) + (pos-float64(lo))*(float64(b)-float64(a))
}

// selectNth reorders v so that v[k] is the k-th smallest value, with no
// larger value before it and no smaller one after, and returns it.
func selectNth(v []float32, k int) float32 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three as pivot keeps sorted input linear.
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		p := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// checkStepInput validates the buffers and index one Step receives.
func checkStepInput(dst, out, sample []float32, i, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: Step before SetTimesteps", ErrBadInput)
	}
	if i < 0 || i >= n {
		return fmt.Errorf("%w: evaluation index %d outside [0, %d)", ErrBadInput, i, n)
	}
	if len(dst) != len(sample) || len(out) != len(sample) {
		return fmt.Errorf("%w: sizes differ: dst %d, model output %d, sample %d", ErrBadInput, len(dst), len(out), len(sample))
	}
	return nil
}

// growTo returns buf resized to n, reusing its storage when it is large
// enough, so that buffers are allocated once per run rather than per step.
func growTo(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}

// sqrt32 is a float32 square root of a float64 coefficient.
func sqrt32(v float64) float32 { return float32(math.Sqrt(v)) }
