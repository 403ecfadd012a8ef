package schedulers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Scheduler class names, as diffusers writes them in _class_name.
const (
	ClassDDPM                   = "DDPMScheduler"
	ClassDDIM                   = "DDIMScheduler"
	ClassPNDM                   = "PNDMScheduler"
	ClassLCM                    = "LCMScheduler"
	ClassEuler                  = "EulerDiscreteScheduler"
	ClassEulerAncestral         = "EulerAncestralDiscreteScheduler"
	ClassHeun                   = "HeunDiscreteScheduler"
	ClassDPMSolverMultistep     = "DPMSolverMultistepScheduler"
	ClassUniPCMultistep         = "UniPCMultistepScheduler"
	ClassFlowMatchEulerDiscrete = "FlowMatchEulerDiscreteScheduler"
)

// classDefaults holds, per class, every key its diffusers __init__ accepts
// with its default value, written as diffusers would write the JSON. The
// key set of a class is the key set of its entry.
var classDefaults = map[string]string{
	ClassDDPM: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "variance_type": "fixed_small",
		"clip_sample": true, "prediction_type": "epsilon", "thresholding": false,
		"dynamic_thresholding_ratio": 0.995, "clip_sample_range": 1.0, "sample_max_value": 1.0,
		"timestep_spacing": "leading", "steps_offset": 0, "rescale_betas_zero_snr": false}`,
	ClassDDIM: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "clip_sample": true,
		"set_alpha_to_one": true, "steps_offset": 0, "prediction_type": "epsilon",
		"thresholding": false, "dynamic_thresholding_ratio": 0.995, "clip_sample_range": 1.0,
		"sample_max_value": 1.0, "timestep_spacing": "leading", "rescale_betas_zero_snr": false}`,
	ClassPNDM: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "skip_prk_steps": false,
		"set_alpha_to_one": false, "prediction_type": "epsilon", "timestep_spacing": "leading",
		"steps_offset": 0}`,
	ClassLCM: `{"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
		"beta_schedule": "scaled_linear", "trained_betas": null, "original_inference_steps": 50,
		"clip_sample": false, "clip_sample_range": 1.0, "set_alpha_to_one": true,
		"steps_offset": 0, "prediction_type": "epsilon", "thresholding": false,
		"dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0,
		"timestep_spacing": "leading", "timestep_scaling": 10.0, "rescale_betas_zero_snr": false}`,
	ClassEuler: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "prediction_type": "epsilon",
		"interpolation_type": "linear", "use_karras_sigmas": false,
		"use_exponential_sigmas": false, "use_beta_sigmas": false, "sigma_min": null,
		"sigma_max": null, "timestep_spacing": "linspace", "timestep_type": "discrete",
		"steps_offset": 0, "rescale_betas_zero_snr": false, "final_sigmas_type": "zero"}`,
	ClassEulerAncestral: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "prediction_type": "epsilon",
		"timestep_spacing": "linspace", "steps_offset": 0, "rescale_betas_zero_snr": false}`,
	ClassHeun: `{"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
		"beta_schedule": "linear", "trained_betas": null, "prediction_type": "epsilon",
		"use_karras_sigmas": false, "use_exponential_sigmas": false, "use_beta_sigmas": false,
		"clip_sample": false, "clip_sample_range": 1.0, "timestep_spacing": "linspace",
		"steps_offset": 0}`,
	ClassDPMSolverMultistep: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "solver_order": 2,
		"prediction_type": "epsilon", "thresholding": false, "dynamic_thresholding_ratio": 0.995,
		"sample_max_value": 1.0, "algorithm_type": "dpmsolver++", "solver_type": "midpoint",
		"lower_order_final": true, "euler_at_final": false, "use_karras_sigmas": false,
		"use_exponential_sigmas": false, "use_beta_sigmas": false, "use_lu_lambdas": false,
		"use_flow_sigmas": false, "flow_shift": 1.0, "final_sigmas_type": "zero",
		"lambda_min_clipped": -Infinity, "variance_type": null, "timestep_spacing": "linspace",
		"steps_offset": 0, "rescale_betas_zero_snr": false, "use_dynamic_shifting": false,
		"time_shift_type": "exponential"}`,
	ClassUniPCMultistep: `{"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
		"beta_schedule": "linear", "trained_betas": null, "solver_order": 2,
		"prediction_type": "epsilon", "thresholding": false, "dynamic_thresholding_ratio": 0.995,
		"sample_max_value": 1.0, "predict_x0": true, "solver_type": "bh2",
		"lower_order_final": true, "disable_corrector": [], "solver_p": null,
		"use_karras_sigmas": false, "use_exponential_sigmas": false, "use_beta_sigmas": false,
		"use_flow_sigmas": false, "flow_shift": 1.0, "timestep_spacing": "linspace",
		"steps_offset": 0, "final_sigmas_type": "zero", "rescale_betas_zero_snr": false,
		"use_dynamic_shifting": false, "time_shift_type": "exponential", "sigma_min": null,
		"sigma_max": null, "shift_terminal": null}`,
	ClassFlowMatchEulerDiscrete: `{"num_train_timesteps": 1000, "shift": 1.0,
		"use_dynamic_shifting": false, "base_shift": 0.5, "max_shift": 1.15,
		"base_image_seq_len": 256, "max_image_seq_len": 4096, "invert_sigmas": false,
		"shift_terminal": null, "use_karras_sigmas": false, "use_exponential_sigmas": false,
		"use_beta_sigmas": false, "time_shift_type": "exponential", "stochastic_sampling": false}`,
}

// friendly is one user-facing sampler name: a class plus the options that
// make it that sampler, applied over the file's keys and under the user's
// overrides.
type friendly struct {
	class   string
	options []string
}

// friendlyNames maps lower-case user-facing names (the names other image
// generation front ends show) to classes and options.
var friendlyNames = map[string]friendly{
	"euler":            {class: ClassEuler},
	"euler a":          {class: ClassEulerAncestral},
	"heun":             {class: ClassHeun},
	"ddim":             {class: ClassDDIM},
	"ddpm":             {class: ClassDDPM},
	"pndm":             {class: ClassPNDM},
	"unipc":            {class: ClassUniPCMultistep},
	"lcm":              {class: ClassLCM},
	"dpm++ 2m":         {class: ClassDPMSolverMultistep, options: []string{"algorithm_type=dpmsolver++", "solver_order=2"}},
	"dpm++ 2m karras":  {class: ClassDPMSolverMultistep, options: []string{"algorithm_type=dpmsolver++", "solver_order=2", "use_karras_sigmas=true"}},
	"dpm++ sde karras": {class: ClassDPMSolverMultistep, options: []string{"algorithm_type=sde-dpmsolver++", "use_karras_sigmas=true"}},
	"flow euler":       {class: ClassFlowMatchEulerDiscrete},
}

// classKeys returns the config keys class accepts, parsed once from
// classDefaults.
func classKeys(class string) (map[string]json.RawMessage, error) {
	def, ok := classDefaults[class]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClass, class)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(sanitizePythonJSON([]byte(def)), &m); err != nil {
		return nil, fmt.Errorf("schedulers: defaults of %s: %v", class, err)
	}
	return m, nil
}

// DefaultConfig returns the configuration diffusers gives class when
// constructed with no arguments. class is a diffusers class name.
func DefaultConfig(class string) (*Config, error) {
	keys, err := classKeys(class)
	if err != nil {
		return nil, err
	}
	c := &Config{ClassName: class}
	for k, v := range keys {
		if err := setKey(c, k, v); err != nil {
			return nil, fmt.Errorf("schedulers: defaults of %s: %w", class, err)
		}
	}
	normalize(c)
	return c, nil
}

// Classes returns the diffusers class names this package implements,
// sorted.
func Classes() []string {
	out := make([]string, 0, len(classDefaults))
	for k := range classDefaults {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// resolveName maps a diffusers class name or a friendly name (any case) to
// a class and the options the friendly name implies.
func resolveName(name string) (friendly, error) {
	for class := range classDefaults {
		if strings.EqualFold(class, name) {
			return friendly{class: class}, nil
		}
	}
	if f, ok := friendlyNames[strings.ToLower(strings.TrimSpace(name))]; ok {
		return f, nil
	}
	return friendly{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownClass, name, strings.Join(Names(), ", "))
}
