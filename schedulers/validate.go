package schedulers

import (
	"fmt"
	"math"
	"slices"
)

// Validate reports the first value the class named by c.ClassName cannot
// honor: an unknown class or enum value, an out-of-range number, or a
// combination diffusers rejects. Keys the class does not accept are not
// checked. Errors wrap ErrInvalidConfig (ErrUnknownClass for the class).
func (c *Config) Validate() error {
	keys, err := classKeys(c.ClassName)
	if err != nil {
		return err
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, c.ClassName, fmt.Sprintf(format, args...))
	}
	oneOf := func(key, v string, allowed ...string) error {
		if has(key) && !slices.Contains(allowed, v) {
			return bad("%s %q is not one of %q", key, v, allowed)
		}
		return nil
	}
	if c.NumTrainTimesteps < 1 {
		return bad("num_train_timesteps must be positive, got %d", c.NumTrainTimesteps)
	}
	if has("beta_schedule") {
		if err := c.validateBetas(bad); err != nil {
			return err
		}
	}
	if err := oneOf("prediction_type", string(c.PredictionType), predictionTypes(c.ClassName)...); err != nil {
		return err
	}
	if err := oneOf("timestep_spacing", string(c.TimestepSpacing), "leading", "trailing", "linspace"); err != nil {
		return err
	}
	if has("steps_offset") && c.StepsOffset < 0 {
		return bad("steps_offset must be >= 0, got %d", c.StepsOffset)
	}
	if has("thresholding") && c.Thresholding {
		if !(c.DynamicThresholdingRatio > 0 && c.DynamicThresholdingRatio <= 1) {
			return bad("dynamic_thresholding_ratio must be in (0, 1], got %v", c.DynamicThresholdingRatio)
		}
		if !(c.SampleMaxValue > 0) {
			return bad("sample_max_value must be positive, got %v", c.SampleMaxValue)
		}
	}
	if has("clip_sample") && c.ClipSample && !(c.ClipSampleRange > 0) {
		return bad("clip_sample_range must be positive, got %v", c.ClipSampleRange)
	}
	if has("use_karras_sigmas") {
		n := 0
		for _, on := range []bool{c.UseKarrasSigmas, c.UseExponentialSigmas, c.UseBetaSigmas} {
			if on {
				n++
			}
		}
		if n > 1 {
			return bad("only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be set")
		}
	}
	for _, p := range []struct {
		key string
		v   *float64
	}{{"sigma_min", c.SigmaMin}, {"sigma_max", c.SigmaMax}} {
		if has(p.key) && p.v != nil && !(*p.v > 0 && !math.IsInf(*p.v, 0)) {
			return bad("%s must be a positive number, got %v", p.key, *p.v)
		}
	}
	if err := oneOf("interpolation_type", c.InterpolationType, "linear", "log_linear"); err != nil {
		return err
	}
	if err := oneOf("timestep_type", c.TimestepType, "discrete", "continuous"); err != nil {
		return err
	}
	if err := oneOf("final_sigmas_type", c.FinalSigmasType, "zero", "sigma_min"); err != nil {
		return err
	}
	if err := oneOf("time_shift_type", c.TimeShiftType, "exponential", "linear"); err != nil {
		return err
	}
	return c.validateClass(bad, oneOf)
}

func (c *Config) validateBetas(bad func(string, ...any) error) error {
	if len(c.TrainedBetas) > 0 {
		if len(c.TrainedBetas) != c.NumTrainTimesteps {
			return bad("trained_betas has %d values for num_train_timesteps %d", len(c.TrainedBetas), c.NumTrainTimesteps)
		}
		for i, b := range c.TrainedBetas {
			if !(b >= 0 && b <= 1) {
				return bad("trained_betas[%d] = %v is outside [0, 1]", i, b)
			}
		}
		return nil
	}
	switch c.BetaSchedule {
	case BetaLinear, BetaScaledLinear:
		if !(c.BetaStart >= 0 && c.BetaEnd >= 0 && c.BetaStart < 1 && c.BetaEnd < 1) {
			return bad("beta_start %v and beta_end %v must be in [0, 1)", c.BetaStart, c.BetaEnd)
		}
	case BetaCosine:
	default:
		return bad("beta_schedule %q is not one of linear, scaled_linear, squaredcos_cap_v2", c.BetaSchedule)
	}
	return nil
}

// predictionTypes lists the prediction types each class implements.
func predictionTypes(class string) []string {
	switch class {
	case ClassPNDM, ClassEulerAncestral:
		return []string{"epsilon", "v_prediction"}
	case ClassDPMSolverMultistep, ClassUniPCMultistep:
		return []string{"epsilon", "v_prediction", "sample", "flow_prediction"}
	default:
		return []string{"epsilon", "v_prediction", "sample"}
	}
}

func (c *Config) validateClass(bad func(string, ...any) error, oneOf func(key, v string, allowed ...string) error) error {
	switch c.ClassName {
	case ClassDDPM:
		v := VarianceFixedSmall
		if c.VarianceType != nil {
			v = *c.VarianceType
		}
		return oneOf("variance_type", v, VarianceFixedSmall, VarianceFixedSmallLog, VarianceFixedLarge, VarianceLearned, VarianceLearnedRange)
	case ClassLCM:
		if c.OriginalInferenceSteps < 1 || c.OriginalInferenceSteps > c.NumTrainTimesteps {
			return bad("original_inference_steps %d must be in [1, num_train_timesteps %d]", c.OriginalInferenceSteps, c.NumTrainTimesteps)
		}
		if !(c.TimestepScaling >= 0) || math.IsInf(c.TimestepScaling, 0) {
			return bad("timestep_scaling must be a finite number >= 0, got %v", c.TimestepScaling)
		}
	case ClassDPMSolverMultistep:
		if c.SolverOrder < 1 || c.SolverOrder > 3 {
			return bad("solver_order must be 1, 2 or 3, got %d", c.SolverOrder)
		}
		if err := oneOf("algorithm_type", c.AlgorithmType, "dpmsolver", "dpmsolver++", "sde-dpmsolver", "sde-dpmsolver++"); err != nil {
			return err
		}
		if err := oneOf("solver_type", c.SolverType, "midpoint", "heun"); err != nil {
			return err
		}
		if c.AlgorithmType != "dpmsolver++" && c.AlgorithmType != "sde-dpmsolver++" && c.FinalSigmasType == "zero" {
			return bad("final_sigmas_type zero is not supported for algorithm_type %s; use sigma_min", c.AlgorithmType)
		}
		if c.VarianceType != nil {
			return oneOf("variance_type", *c.VarianceType, VarianceLearned, VarianceLearnedRange)
		}
	case ClassUniPCMultistep:
		if c.SolverOrder < 1 || c.SolverOrder > 3 {
			return bad("solver_order must be 1, 2 or 3, got %d", c.SolverOrder)
		}
		if err := oneOf("solver_type", c.SolverType, "bh1", "bh2"); err != nil {
			return err
		}
		if c.ShiftTerminal != nil && !c.UseFlowSigmas {
			return bad("shift_terminal is only supported with use_flow_sigmas")
		}
	case ClassFlowMatchEulerDiscrete:
		if !(c.Shift > 0) || math.IsInf(c.Shift, 0) {
			return bad("shift must be a positive number, got %v", c.Shift)
		}
		if c.UseDynamicShift && c.MaxImageSeqLen == c.BaseImageSeqLen {
			return bad("base_image_seq_len and max_image_seq_len must differ for dynamic shifting")
		}
		if c.ShiftTerminal != nil && !(*c.ShiftTerminal > 0 && *c.ShiftTerminal < 1) {
			return bad("shift_terminal must be in (0, 1), got %v", *c.ShiftTerminal)
		}
	}
	return nil
}
