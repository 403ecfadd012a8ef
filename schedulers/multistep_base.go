package schedulers

import (
	"fmt"
	"math"
)

// multistepBase is the state the samplers with memory between steps share
// (DPM-Solver multistep, UniPC, Heun, flow-match Euler): the resolved config,
// the inference timesteps with one sigma per evaluation plus the final one,
// and the bookkeeping that makes Step reject out-of-order calls, since their
// history (multistep outputs, Heun's half step) assumes consecutive steps.
type multistepBase struct {
	cfg       Config
	timesteps []float64
	// sigmas holds len(timesteps)+1 values, float32-rounded as diffusers
	// keeps them; sigmas[i] belongs to evaluation i.
	sigmas []float64
	// flow selects the rectified-flow parametrisation alpha = 1 - sigma
	// (use_flow_sigmas) over the variance-preserving one.
	flow  bool
	batch int
	// prev is the last evaluation Step handled, -1 when none since
	// SetTimesteps.
	prev int
}

// Config returns the resolved configuration; callers must not modify it.
func (b *multistepBase) Config() *Config { return &b.cfg }

// Timesteps returns the model timestep of each evaluation; callers must not
// modify it.
func (b *multistepBase) Timesteps() []float64 { return b.timesteps }

// Sigmas returns the sigma of each evaluation followed by the final sigma;
// callers must not modify it.
func (b *multistepBase) Sigmas() []float64 { return b.sigmas }

// Order is 1: one model evaluation per step.
func (b *multistepBase) Order() int { return 1 }

// InitNoiseSigma is 1: these samplers start from unit-variance noise.
func (b *multistepBase) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput copies sample: the model sees the latents unscaled.
func (b *multistepBase) ScaleModelInput(dst, sample []float32, i int) { copy(dst, sample) }

// alphaSigma returns (alpha_t, sigma_t) of the data/noise mix
// x_t = alpha_t x0 + sigma_t eps at schedule sigma s.
func (b *multistepBase) alphaSigma(s float64) (alpha, sigma float64) {
	if b.flow {
		return 1 - s, s
	}
	alpha = 1 / math.Sqrt(s*s+1)
	return alpha, s * alpha
}

// lambda is the half log-SNR log(alpha_t) - log(sigma_t) at sigmas[k].
func (b *multistepBase) lambda(k int) float64 {
	a, s := b.alphaSigma(b.sigmas[k])
	return math.Log(a) - math.Log(s)
}

// AddNoise writes alpha_t*original + sigma_t*noise at the sigma of timestep
// t, found as diffusers' index_for_timestep does: the second match when t
// appears twice, the last evaluation when it does not appear.
func (b *multistepBase) AddNoise(dst, original, noise []float32, t float64) {
	if len(b.timesteps) == 0 {
		copy(dst, original)
		return
	}
	k := indexForTimestep(b.timesteps, t, len(b.timesteps)-1)
	a, s := b.alphaSigma(b.sigmas[k])
	af, sf := float32(a), float32(s)
	for j := range dst {
		dst[j] = af*original[j] + sf*noise[j]
	}
}

// indexForTimestep returns the index of t in ts, preferring the second
// occurrence (diffusers does so that img2img starting mid-schedule does not
// skip a sigma), and missing when t does not occur.
func indexForTimestep(ts []float64, t float64, missing int) int {
	first := -1
	for k, v := range ts {
		if v == t {
			if first >= 0 {
				return k
			}
			first = k
		}
	}
	if first >= 0 {
		return first
	}
	return missing
}

// nearestTimestep is indexForTimestep that falls back to the closest
// timestep, for the schedulers where diffusers fails on an unknown one but
// AddNoise has no error to return.
func nearestTimestep(ts []float64, t float64) int {
	k := indexForTimestep(ts, t, -1)
	if k >= 0 {
		return k
	}
	best := 0
	for j, v := range ts {
		if math.Abs(v-t) < math.Abs(ts[best]-t) {
			best = j
		}
	}
	return best
}

// reset clears the per-run state after a new schedule.
func (b *multistepBase) reset(p TimestepParams) error {
	if p.Batch < 0 {
		return fmt.Errorf("%w: batch %d", ErrBadInput, p.Batch)
	}
	b.batch = max(p.Batch, 1)
	b.prev = -1
	return nil
}

// checkStep validates one Step's buffers and index. A multistep history is
// only meaningful for consecutive evaluations, so after the first Step each
// call must be for the next index. outFactor is how many model-output values
// a sample value may come with (2 for a learned-variance output whose
// second half diffusers drops).
func (b *multistepBase) checkStep(dst, out, sample []float32, i int, outFactor int) error {
	n := len(b.timesteps)
	switch {
	case n == 0:
		return fmt.Errorf("%s: %w: Step before SetTimesteps", b.cfg.ClassName, ErrBadInput)
	case i < 0 || i >= n:
		return fmt.Errorf("%s: %w: evaluation index %d outside [0, %d)", b.cfg.ClassName, ErrBadInput, i, n)
	case b.prev >= 0 && i != b.prev+1:
		return fmt.Errorf("%s: %w: evaluation %d after %d; steps must be consecutive (call SetTimesteps to restart)", b.cfg.ClassName, ErrBadInput, i, b.prev)
	case len(dst) != len(sample) || (len(out) != len(sample) && len(out) != outFactor*len(sample)):
		return fmt.Errorf("%s: %w: sizes differ: dst %d, model output %d, sample %d", b.cfg.ClassName, ErrBadInput, len(dst), len(out), len(sample))
	case len(sample)%b.batch != 0:
		return fmt.Errorf("%s: %w: %d values do not split into %d samples", b.cfg.ClassName, ErrBadInput, len(sample), b.batch)
	}
	return nil
}

// trainSigmaTables returns the training sigmas ((1-ac)/ac)^0.5 in float32,
// their float32 logs, and the float32 half log-SNR table lambda_t that
// DPM-Solver clips with lambda_min_clipped.
func trainSigmaTables(ac []float64) (sigmas, logSigmas, lambdas []float64) {
	sigmas = torchSigmas(ac)
	logSigmas = float32Log(sigmas)
	lambdas = make([]float64, len(ac))
	for i, a := range ac {
		af := float32(a)
		at := float32(math.Sqrt(float64(af)))
		st := float32(math.Sqrt(float64(1 - af)))
		lambdas[i] = float64(float32(math.Log(float64(at))) - float32(math.Log(float64(st))))
	}
	return sigmas, logSigmas, lambdas
}

// sigmaScheduleKind names which of the mutually exclusive sigma schedules
// (use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas) a config
// picks; it is an error to set more than one.
func sigmaScheduleKind(c *Config) (string, error) {
	kind, count := "", 0
	if c.UseKarrasSigmas {
		kind, count = "karras", count+1
	}
	if c.UseExponentialSigmas {
		kind, count = "exponential", count+1
	}
	if c.UseBetaSigmas {
		kind, count = "beta", count+1
	}
	if count > 1 {
		return "", fmt.Errorf("%w: only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be set", ErrInvalidConfig)
	}
	return kind, nil
}

// convertSigmas returns n sigmas of the named schedule between sigmaMin and
// sigmaMax, descending.
func convertSigmas(kind string, sigmaMin, sigmaMax float64, n int) []float64 {
	switch kind {
	case "karras":
		return sigmasKarras(sigmaMin, sigmaMax, n)
	case "exponential":
		return sigmasExponential(sigmaMin, sigmaMax, n)
	default:
		return sigmasBeta(sigmaMin, sigmaMax, n, defaultBetaSigmaShape, defaultBetaSigmaShape)
	}
}

// float32s rounds every value to float32 in place and returns s.
func float32s(s []float64) []float64 {
	for i, v := range s {
		s[i] = float32ish(v)
	}
	return s
}

// rotate moves the oldest history buffer to the newest slot and returns it
// for reuse, so that hist[len-1] is always the newest entry.
func rotate(hist [][]float32) []float32 {
	oldest := hist[0]
	copy(hist, hist[1:])
	hist[len(hist)-1] = oldest
	return oldest
}
