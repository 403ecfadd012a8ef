package schedulers

import (
	"fmt"
	"math"
)

// Noise schedules as plain data, shared by every sampler. All math is in
// float64, as diffusers computes its tables in float64/float32 numpy and the
// differences matter at 5e-3 image tolerance.

// betas returns the training betas the config describes.
func betas(c *Config) ([]float64, error) {
	n := c.NumTrainTimesteps
	if len(c.TrainedBetas) > 0 {
		b := make([]float64, len(c.TrainedBetas))
		for i, v := range c.TrainedBetas {
			b[i] = float32ish(v) // torch.tensor(trained_betas, dtype=float32)
		}
		return b, nil
	}
	if n <= 0 {
		return nil, fmt.Errorf("schedulers: num_train_timesteps must be positive, got %d", n)
	}
	b := make([]float64, n)
	switch c.BetaSchedule {
	case BetaLinear, "":
		copy(b, torchLinspace32(c.BetaStart, c.BetaEnd, n))
	case BetaScaledLinear:
		for i, v := range torchLinspace32(math.Sqrt(c.BetaStart), math.Sqrt(c.BetaEnd), n) {
			b[i] = float32ish(v * v)
		}
	case BetaCosine:
		alphaBar := func(t float64) float64 {
			x := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
			return x * x
		}
		for i := range b {
			t1, t2 := float64(i)/float64(n), float64(i+1)/float64(n)
			b[i] = float32ish(math.Min(1-alphaBar(t2)/alphaBar(t1), 0.999))
		}
	default:
		return nil, fmt.Errorf("schedulers: unknown beta_schedule %q", c.BetaSchedule)
	}
	return b, nil
}

// float32ish rounds to float32 precision: diffusers keeps betas and
// alphas_cumprod in torch.float32.
func float32ish(v float64) float64 { return float64(float32(v)) }

func linspaceAt(start, end float64, n, i int) float64 {
	if n == 1 {
		return start
	}
	return start + (end-start)*float64(i)/float64(n-1)
}

// alphasCumprod returns the cumulative products of (1 - beta), in float32
// precision, with rescale_betas_zero_snr applied when configured. With zero
// terminal SNR the last value is set to 2^-24 so that sigma stays finite, as
// the sigma-based diffusers schedulers (Euler, Euler a, DPM-Solver, UniPC)
// do; the alpha-based ones (DDPM, DDIM, PNDM, LCM) use rawAlphasCumprod.
func alphasCumprod(c *Config) ([]float64, error) {
	ac, err := rawAlphasCumprod(c)
	if err != nil {
		return nil, err
	}
	if c.RescaleBetasZeroSNR {
		ac[len(ac)-1] = float32ish(math.Pow(2, -24))
	}
	return ac, nil
}

// rawAlphasCumprod is alphasCumprod without the 2^-24 floor: with zero
// terminal SNR its last value is exactly 0, which DDIM and DDPM keep.
func rawAlphasCumprod(c *Config) ([]float64, error) {
	b, err := betas(c)
	if err != nil {
		return nil, err
	}
	if c.RescaleBetasZeroSNR {
		b = rescaleZeroTerminalSNR(b)
	}
	// torch.cumprod on CPU multiplies the float32 alphas in a float64
	// accumulator and rounds each output to float32; accumulating in
	// float32 drifts by ~1e-5 relative over 1000 steps.
	ac := make([]float64, len(b))
	p := 1.0
	for i, beta := range b {
		p *= float64(float32(1 - float32(beta)))
		ac[i] = float32ish(p)
	}
	return ac, nil
}

// rescaleZeroTerminalSNR rescales betas to have zero terminal SNR
// (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
// Flawed", Algorithm 1).
func rescaleZeroTerminalSNR(b []float64) []float64 {
	n := len(b)
	sq := make([]float64, n)
	p := 1.0
	for i, beta := range b {
		p *= 1 - beta
		sq[i] = math.Sqrt(p)
	}
	first, last := sq[0], sq[n-1]
	for i := range sq {
		sq[i] = (sq[i] - last) * first / (first - last)
	}
	out := make([]float64, n)
	prev := 1.0
	for i := range sq {
		a := sq[i] * sq[i]
		out[i] = float32ish(1 - a/prev)
		prev = a
	}
	return out
}

// sigmasFromAlphas returns sqrt((1 - ac) / ac) for each training timestep.
func sigmasFromAlphas(ac []float64) []float64 {
	s := make([]float64, len(ac))
	for i, a := range ac {
		s[i] = math.Sqrt((1 - a) / a)
	}
	return s
}

// sigmasKarras is the schedule of Karras et al. 2022 (EDM), eq. 5, rho = 7.
func sigmasKarras(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	minInv, maxInv := math.Pow(sigmaMin, 1/rho), math.Pow(sigmaMax, 1/rho)
	s := make([]float64, n)
	for i := range s {
		r := linspaceAt(0, 1, n, i)
		s[i] = math.Pow(maxInv+r*(minInv-maxInv), rho)
	}
	return s
}

// sigmasExponential spaces sigmas evenly in log space from sigmaMax down to
// sigmaMin.
func sigmasExponential(sigmaMin, sigmaMax float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.Exp(linspaceAt(math.Log(sigmaMax), math.Log(sigmaMin), n, i))
	}
	return s
}

// sigmaToT maps a sigma back to a fractional training timestep by linear
// interpolation in log-sigma over the training sigmas (ascending in t).
func sigmaToT(sigma float64, logSigmas []float64) float64 {
	ls := math.Log(math.Max(sigma, 1e-10))
	// logSigmas ascends with t; find lo with logSigmas[lo] <= ls < logSigmas[lo+1].
	lo := 0
	for i := range logSigmas {
		if ls >= logSigmas[i] {
			lo = i
		}
	}
	if lo > len(logSigmas)-2 {
		lo = len(logSigmas) - 2
	}
	hi := lo + 1
	w := (logSigmas[lo] - ls) / (logSigmas[lo] - logSigmas[hi])
	w = math.Max(0, math.Min(1, w))
	return (1-w)*float64(lo) + w*float64(hi)
}
