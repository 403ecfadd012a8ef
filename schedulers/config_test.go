package schedulers

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pndmFile = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.40.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "some_future_key": "ignored"
}`

func TestParseConfig(t *testing.T) {
	t.Run("own class", func(t *testing.T) {
		c, err := ParseConfig([]byte(pndmFile), "")
		if err != nil {
			t.Fatal(err)
		}
		if c.ClassName != ClassPNDM || !c.SkipPRKSteps || c.StepsOffset != 1 || c.BetaSchedule != BetaScaledLinear || c.TimestepSpacing != SpacingLeading {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("switch class keeps file keys, defaults the rest", func(t *testing.T) {
		c, err := ParseConfig([]byte(pndmFile), ClassEuler)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name      string
			got, want any
		}{
			{"beta_start from file", c.BetaStart, 0.00085},
			{"beta_schedule from file", c.BetaSchedule, BetaScaledLinear},
			{"steps_offset from file", c.StepsOffset, 1},
			{"timestep_spacing default", c.TimestepSpacing, SpacingLinspace},
			{"interpolation default", c.InterpolationType, "linear"},
			{"final sigmas default", c.FinalSigmasType, "zero"},
			{"sigma_min default null", c.SigmaMin == nil, true},
		}
		for _, tc := range tests {
			if tc.got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
			}
		}
	})
	t.Run("_use_default_values", func(t *testing.T) {
		data := `{"_class_name": "DDIMScheduler", "timestep_spacing": "trailing", "steps_offset": 1,
			"_use_default_values": ["timestep_spacing"]}`
		c, err := ParseConfig([]byte(data), ClassEuler)
		if err != nil {
			t.Fatal(err)
		}
		if c.TimestepSpacing != SpacingLinspace || c.StepsOffset != 1 {
			t.Fatalf("spacing %s offset %d; want linspace (a default in the source) and 1", c.TimestepSpacing, c.StepsOffset)
		}
	})
	t.Run("Python JSON", func(t *testing.T) {
		data := `{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity,
			"sample_max_value": Infinity, "flow_shift": NaN, "algorithm_type": "sde-dpmsolver++",
			"solver_type": "bh2", "note": "Infinity stays text"}`
		c, err := ParseConfig([]byte(data), "")
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsInf(c.LambdaMinClipped, -1) || !math.IsInf(c.SampleMaxValue, 1) || !math.IsNaN(c.FlowShift) {
			t.Fatalf("got lambda %v max %v shift %v", c.LambdaMinClipped, c.SampleMaxValue, c.FlowShift)
		}
		if c.SolverType != "midpoint" {
			t.Fatalf("solver_type bh2 carried into DPM-Solver: got %q, want midpoint as diffusers maps it", c.SolverType)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c, err := DefaultConfig(ClassDPMSolverMultistep)
		if err != nil {
			t.Fatal(err)
		}
		if c.SolverOrder != 2 || !c.LowerOrderFinal || !math.IsInf(c.LambdaMinClipped, -1) || c.VarianceType != nil {
			t.Fatalf("got %+v", c)
		}
		u, _ := DefaultConfig(ClassUniPCMultistep)
		if u.SolverType != "bh2" || !u.PredictX0 || u.DisableCorrector == nil || len(u.DisableCorrector) != 0 {
			t.Fatalf("UniPC defaults: got %+v", u)
		}
	})
}

func TestOverrides(t *testing.T) {
	c := mustConfig(t, ClassEuler)
	tests := []struct {
		override string
		check    func() bool
	}{
		{"timestep_spacing=trailing", func() bool { return c.TimestepSpacing == SpacingTrailing }},
		{"use_karras_sigmas=true", func() bool { return c.UseKarrasSigmas }},
		{"sigma_min=0.5", func() bool { return c.SigmaMin != nil && *c.SigmaMin == 0.5 }},
		{"sigma_min=null", func() bool { return c.SigmaMin == nil }},
		{"steps_offset=2", func() bool { return c.StepsOffset == 2 }},
		{"trained_betas=[0.1, 0.2]", func() bool { return len(c.TrainedBetas) == 2 && c.TrainedBetas[1] == 0.2 }},
		{"trained_betas=null", func() bool { return c.TrainedBetas == nil }},
		{"prediction_type = v_prediction", func() bool { return c.PredictionType == PredictV }},
	}
	for _, tc := range tests {
		t.Run(tc.override, func(t *testing.T) {
			k, v, _ := strings.Cut(tc.override, "=")
			if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				t.Fatal(err)
			}
			if !tc.check() {
				t.Fatalf("override not applied: %+v", c)
			}
		})
	}
}

// TestBadInput checks that every kind of bad input is a typed error.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scheduler_config.json")
	if err := os.WriteFile(path, []byte(pndmFile), 0o644); err != nil {
		t.Fatal(err)
	}
	euler := mustScheduler(t, ClassEuler, TimestepParams{Steps: 4})
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown class in Load", second(Load(path, "Karras Magic", nil)), ErrUnknownClass},
		{"unknown class in New", second(New(&Config{ClassName: "FooScheduler"})), ErrUnknownClass},
		{"unknown class in ByName", second(ByName("nope")), ErrUnknownClass},
		{"unknown file class", second(ParseConfig([]byte(`{"_class_name": "KDPM2DiscreteScheduler"}`), "")), ErrUnknownClass},
		{"unknown option", second(Load(path, "Euler", []string{"no_such_option=true"})), ErrUnknownOption},
		{"override without =", second(Load(path, "", []string{"steps_offset"})), ErrInvalidConfig},
		{"bad enum", second(Load(path, "", []string{"timestep_spacing=sideways"})), ErrInvalidConfig},
		{"bad type", second(Load(path, "", []string{"steps_offset=1.5"})), ErrInvalidConfig},
		{"bad bool", second(Load(path, "Euler", []string{"use_karras_sigmas=maybe"})), ErrInvalidConfig},
		{"solver order", second(Load(path, "DPM++ 2M", []string{"solver_order=5"})), ErrInvalidConfig},
		{"two sigma schedules", second(Load(path, "Euler", []string{"use_karras_sigmas=true", "use_beta_sigmas=true"})), ErrInvalidConfig},
		{"DDPM fixed_large_log", second(Load(path, "DDPM", []string{"variance_type=fixed_large_log"})), ErrInvalidConfig},
		{"trained betas length", second(Load(path, "", []string{"trained_betas=[0.1]"})), ErrInvalidConfig},
		{"malformed JSON", second(ParseConfig([]byte(`{"_class_name": `), "")), ErrInvalidConfig},
		{"no class", second(ParseConfig([]byte(`{}`), "")), ErrInvalidConfig},
		{"missing file", second(Load(filepath.Join(dir, "none.json"), "", nil)), os.ErrNotExist},
		{"zero steps", euler.SetTimesteps(TimestepParams{Steps: 0}), ErrInvalidSteps},
		{"too many steps", euler.SetTimesteps(TimestepParams{Steps: 1001}), ErrInvalidSteps},
		{"PRK with 3 steps", mustConfigScheduler(t, ClassPNDM).SetTimesteps(TimestepParams{Steps: 3}), ErrInvalidSteps},
		{"LCM beyond origin steps", mustConfigScheduler(t, ClassLCM).SetTimesteps(TimestepParams{Steps: 51}), ErrInvalidSteps},
		{"LCM strength", mustConfigScheduler(t, ClassLCM).SetTimesteps(TimestepParams{Steps: 4, Strength: 2}), ErrInvalidStrength},
		{"DDIM negative eta", mustConfigScheduler(t, ClassDDIM).SetTimesteps(TimestepParams{Steps: 4, Eta: -1}), ErrInvalidConfig},
		{"custom sigmas on Euler", mustConfigScheduler(t, ClassEuler).SetTimesteps(TimestepParams{Steps: 2, Sigmas: []float64{1, 0.5}}), ErrInvalidConfig},
		{"strength 0", second(Img2ImgBegin(euler, 4, 0)), ErrInvalidStrength},
		{"strength above 1", second(Img2ImgBegin(euler, 4, 1.5)), ErrInvalidStrength},
		{"strength NaN", second(Img2ImgBegin(euler, 4, math.NaN())), ErrInvalidStrength},
		{"img2img zero steps", second(Img2ImgBegin(euler, 0, 0.5)), ErrInvalidSteps},
		{"step before SetTimesteps", mustConfigScheduler(t, ClassDDIM).Step(make([]float32, 4), make([]float32, 4), make([]float32, 4), 0, nil), ErrBadInput},
		{"step index out of range", euler.Step(make([]float32, 4), make([]float32, 4), make([]float32, 4), 4, nil), ErrBadInput},
		{"step size mismatch", euler.Step(make([]float32, 4), make([]float32, 3), make([]float32, 4), 0, nil), ErrBadInput},
		{"stochastic step without noise", mustScheduler(t, ClassEulerAncestral, TimestepParams{Steps: 2}).Step(make([]float32, 4), make([]float32, 4), make([]float32, 4), 0, nil), ErrBadInput},
		{"learned variance needs twice the channels", mustScheduler(t, ClassDDPM, TimestepParams{Steps: 2}, "variance_type=learned_range").Step(make([]float32, 4), make([]float32, 4), make([]float32, 4), 0, &fakeNoise{}), ErrBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatalf("got no error, want %v", tc.want)
			}
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", tc.err, tc.want)
			}
		})
	}
}

func mustConfigScheduler(t *testing.T, class string) Scheduler {
	t.Helper()
	s, err := New(mustConfig(t, class))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func second[T any](_ T, err error) error { return err }

// TestFriendlyNames checks that each help-text name builds a scheduler of
// the right class and options.
func TestFriendlyNames(t *testing.T) {
	want := map[string]string{
		"Euler": ClassEuler, "Euler a": ClassEulerAncestral, "Heun": ClassHeun, "DDIM": ClassDDIM,
		"DDPM": ClassDDPM, "PNDM": ClassPNDM, "UniPC": ClassUniPCMultistep, "LCM": ClassLCM,
		"DPM++ 2M": ClassDPMSolverMultistep, "DPM++ 2M Karras": ClassDPMSolverMultistep,
		"DPM++ SDE Karras": ClassDPMSolverMultistep, "Flow Euler": ClassFlowMatchEulerDiscrete,
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			f, err := resolveName(name)
			if err != nil {
				t.Fatal(err)
			}
			if f.class != want[name] {
				t.Fatalf("class %s, want %s", f.class, want[name])
			}
			c, err := DefaultConfig(f.class)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ApplyOverrides(f.options); err != nil {
				t.Fatal(err)
			}
			if name == "DPM++ SDE Karras" && (c.AlgorithmType != "sde-dpmsolver++" || !c.UseKarrasSigmas) {
				t.Fatalf("DPM++ SDE Karras: got algorithm %s karras %v", c.AlgorithmType, c.UseKarrasSigmas)
			}
			if _, err := resolveName(lower(name)); err != nil {
				t.Fatalf("lower-case %q: %v", lower(name), err)
			}
		})
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// FuzzParseConfig checks that no input makes the parser panic and that
// whatever it accepts validates.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(pndmFile), "")
	f.Add([]byte(`{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity}`), "Euler a")
	f.Add([]byte(`{"_class_name": "EulerDiscreteScheduler", "sigma_min": NaN, "trained_betas": [0.1, Infinity]}`), "")
	f.Fuzz(func(t *testing.T, data []byte, class string) {
		if f, err := resolveName(class); err == nil {
			class = f.class
		}
		c, err := ParseConfig(data, class)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
	})
}

func TestOverrideOfAnotherClassIsIgnored(t *testing.T) {
	c, err := DefaultConfig("EulerDiscreteScheduler")
	if err != nil {
		t.Fatal(err)
	}
	before := *c
	if err := c.ApplyOverrides([]string{"skip_prk_steps=true", "clip_sample=false"}); err != nil {
		t.Fatalf("keys of other classes: got %v, want them ignored", err)
	}
	if c.SkipPRKSteps != before.SkipPRKSteps || c.ClipSample != before.ClipSample {
		t.Error("a key Euler does not know changed its config")
	}
}
