package schedulers

import (
	"fmt"
	"math"
	"slices"
)

// Shared per-element math of the alpha-based samplers (DDPM, DDIM, LCM):
// turning a model output into a predicted clean sample, and the clipping
// and dynamic thresholding diffusers applies to it.

// predictX0 returns the clean-sample prediction for one element given
// sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t).
func predictX0(pt PredictionType, sample, out, sqrtA, sqrtB float32) float32 {
	switch pt {
	case PredictV:
		return sqrtA*sample - sqrtB*out
	case PredictSample:
		return out
	default: // epsilon
		return (sample - sqrtB*out) / sqrtA
	}
}

// predictEps returns the noise prediction for one element, from the raw
// model output (before any clipping of x0, as diffusers computes it).
func predictEps(pt PredictionType, sample, out, sqrtA, sqrtB float32) float32 {
	switch pt {
	case PredictV:
		return sqrtA*out + sqrtB*sample
	case PredictSample:
		return (sample - sqrtA*out) / sqrtB
	default:
		return out
	}
}

// clampX0 applies clip_sample or dynamic thresholding to the predicted
// clean samples in x0 (batch samples laid out one after another). scratch
// must hold len(x0)/batch values.
func clampX0(c *Config, x0 []float32, batch int, scratch []float32) {
	switch {
	case c.Thresholding:
		thresholdSample(x0, batch, c.DynamicThresholdingRatio, c.SampleMaxValue, scratch)
	case c.ClipSample:
		r := float32(c.ClipSampleRange)
		for i, v := range x0 {
			x0[i] = min(max(v, -r), r)
		}
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
		slices.Sort(abs)
		s := float32(min(max(quantileSorted(abs, ratio), 1), maxValue))
		for i, v := range x {
			x[i] = min(max(v, -s), s) / s
		}
	}
}

// quantileSorted is torch.quantile's default linear interpolation over
// sorted values.
func quantileSorted(sorted []float32, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	w := pos - float64(lo)
	return float64(sorted[lo]) + w*(float64(sorted[hi])-float64(sorted[lo]))
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
