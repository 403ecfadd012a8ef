package schedulers

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// p2Scheduler builds a class from its defaults plus overrides and sets n
// steps.
func p2Scheduler(t testing.TB, class string, p TimestepParams, overrides ...string) Scheduler {
	t.Helper()
	cfg, err := DefaultConfig(class)
	if err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if err := cfg.ApplyOverrides(overrides); err != nil {
		t.Fatalf("ApplyOverrides(%v): %v", overrides, err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.SetTimesteps(p); err != nil {
		t.Fatalf("SetTimesteps: %v", err)
	}
	return s
}

// p2Oracle fills x0 and eps with fixed patterns.
func p2Oracle(n int) (x0, eps []float32) {
	x0, eps = make([]float32, n), make([]float32, n)
	p2Pattern(x0, 11, 5)
	p2Pattern(eps, 13, 7)
	return x0, eps
}

// TestPart2PerfectDenoiser feeds each deterministic sampler the exact model
// output for a known clean sample x0 and noise eps. Every DPM-Solver and
// UniPC update is exact for a constant x0 (all divided differences vanish),
// as are Heun and flow Euler, so after each step the sample must equal the
// forward process at the next sigma, and the run must end on x0.
func TestPart2PerfectDenoiser(t *testing.T) {
	tests := []struct {
		class string
		over  []string
	}{
		{ClassDPMSolverMultistep, nil},
		{ClassDPMSolverMultistep, []string{"solver_order=3", "use_karras_sigmas=true"}},
		{ClassDPMSolverMultistep, []string{"solver_type=heun", "prediction_type=v_prediction", "timestep_spacing=trailing"}},
		{ClassDPMSolverMultistep, []string{"algorithm_type=dpmsolver", "final_sigmas_type=sigma_min", "solver_order=3"}},
		{ClassDPMSolverMultistep, []string{"prediction_type=sample", "use_lu_lambdas=true"}},
		{ClassDPMSolverMultistep, []string{"use_flow_sigmas=true", "flow_shift=3.0", "prediction_type=flow_prediction"}},
		{ClassUniPCMultistep, nil},
		{ClassUniPCMultistep, []string{"solver_order=3", "solver_type=bh1", "use_exponential_sigmas=true"}},
		{ClassUniPCMultistep, []string{"predict_x0=false", "final_sigmas_type=sigma_min", "prediction_type=v_prediction"}},
		{ClassUniPCMultistep, []string{"use_flow_sigmas=true", "flow_shift=2.0", "prediction_type=flow_prediction", "use_beta_sigmas=false"}},
		{ClassHeun, nil},
		{ClassHeun, []string{"prediction_type=v_prediction", "use_karras_sigmas=true"}},
		{ClassHeun, []string{"prediction_type=sample", "timestep_spacing=leading", "steps_offset=1"}},
		{ClassFlowMatchEulerDiscrete, []string{"shift=3.0"}},
		{ClassFlowMatchEulerDiscrete, []string{"shift=3.0", "use_karras_sigmas=true"}},
	}
	for _, tc := range tests {
		for _, steps := range []int{1, 2, 7, 20} {
			t.Run(fmt.Sprintf("%s%v/%d", tc.class, tc.over, steps), func(t *testing.T) {
				s := p2Scheduler(t, tc.class, TimestepParams{Steps: steps}, tc.over...)
				const n = 64
				x0, eps := p2Oracle(n)
				sig := sigmasOf(t, s)
				cfg := s.Config()
				// forward returns the sample at sigma and the exact model
				// output for it.
				forward := func(sg float64, x, out []float32) {
					for k := range x {
						xk, ek := float64(x0[k]), float64(eps[k])
						var a, sv float64
						switch {
						case tc.class == ClassHeun:
							a, sv = 1, sg
						case tc.class == ClassFlowMatchEulerDiscrete || cfg.UseFlowSigmas:
							a, sv = 1-sg, sg
						default:
							a, sv = 1/math.Sqrt(sg*sg+1), sg/math.Sqrt(sg*sg+1)
						}
						x[k] = float32(a*xk + sv*ek)
						if out == nil {
							continue
						}
						switch cfg.PredictionType {
						case PredictSample:
							out[k] = x0[k]
						case PredictFlow:
							out[k] = float32(ek - xk)
						case PredictV:
							if tc.class == ClassHeun {
								a, sv = 1/math.Sqrt(sg*sg+1), sg/math.Sqrt(sg*sg+1)
							}
							out[k] = float32(a*ek - sv*xk)
						default:
							if tc.class == ClassFlowMatchEulerDiscrete {
								out[k] = float32(ek - xk)
							} else {
								out[k] = eps[k]
							}
						}
					}
				}
				x, out, want := make([]float32, n), make([]float32, n), make([]float32, n)
				forward(sig[0], x, nil)
				tol := 2e-4
				if !cfg.PredictX0 && tc.class == ClassUniPCMultistep {
					// The noise-space corrector multiplies float32 rounding
					// of the converted outputs by sigma_t*(e^h - 1), about 40
					// for a 157 -> 3.4 step, and the next step by 3.5 again.
					tol = 1e-3
				}
				for i := range s.Timesteps() {
					// Heun's second evaluation sees the predicted sample at
					// sigmas[i]; the first sees the sample at sigmas[i].
					in := make([]float32, n)
					forward(sig[i], in, out)
					if err := s.Step(x, out, x, i, nil); err != nil {
						t.Fatalf("Step %d: %v", i, err)
					}
					next := sig[i+1]
					if tc.class == ClassHeun && i%2 == 1 {
						next = sig[i]
					}
					forward(next, want, nil)
					for k := range x {
						if math.Abs(float64(x[k]-want[k])) > tol*(1+math.Abs(float64(want[k]))) {
							t.Fatalf("after evaluation %d (sigma %v): x[%d] = %v, want %v", i, next, k, x[k], want[k])
						}
					}
				}
				last := sig[len(sig)-1]
				if last == 0 {
					for k := range x {
						if math.Abs(float64(x[k]-x0[k])) > tol*(1+math.Abs(float64(x0[k]))) {
							t.Fatalf("end of run x[%d] = %v, want x0 %v", k, x[k], x0[k])
						}
					}
				}
			})
		}
	}
}

// TestPart2SigmasMonotone checks that every schedule descends strictly to
// its final sigma (Heun repeats each inner sigma once) and that timesteps
// stay in the training range.
func TestPart2SigmasMonotone(t *testing.T) {
	configs := []struct {
		class string
		over  []string
	}{
		{ClassDPMSolverMultistep, nil},
		{ClassDPMSolverMultistep, []string{"use_karras_sigmas=true", "beta_schedule=scaled_linear", "beta_start=0.00085", "beta_end=0.012"}},
		{ClassDPMSolverMultistep, []string{"use_exponential_sigmas=true"}},
		{ClassDPMSolverMultistep, []string{"use_beta_sigmas=true"}},
		{ClassDPMSolverMultistep, []string{"use_lu_lambdas=true"}},
		{ClassDPMSolverMultistep, []string{"timestep_spacing=trailing", "final_sigmas_type=sigma_min"}},
		{ClassDPMSolverMultistep, []string{"beta_schedule=squaredcos_cap_v2", "lambda_min_clipped=-5.1"}},
		{ClassUniPCMultistep, []string{"timestep_spacing=leading", "steps_offset=1"}},
		{ClassUniPCMultistep, []string{"use_karras_sigmas=true", "sigma_min=0.1", "sigma_max=10"}},
		{ClassUniPCMultistep, []string{"use_flow_sigmas=true", "flow_shift=5.0"}},
		{ClassHeun, nil},
		{ClassHeun, []string{"use_beta_sigmas=true"}},
		{ClassFlowMatchEulerDiscrete, []string{"shift=3.0"}},
		{ClassFlowMatchEulerDiscrete, []string{"shift=3.0", "shift_terminal=0.2"}},
		{ClassFlowMatchEulerDiscrete, []string{"use_exponential_sigmas=true"}},
	}
	for _, tc := range configs {
		for _, steps := range []int{2, 5, 30, 100} {
			t.Run(fmt.Sprintf("%s%v/%d", tc.class, tc.over, steps), func(t *testing.T) {
				s := p2Scheduler(t, tc.class, TimestepParams{Steps: steps}, tc.over...)
				sig := sigmasOf(t, s)
				distinct := sig[:1]
				for k := 1; k < len(sig); k++ {
					if tc.class == ClassHeun && k%2 == 0 && k < len(sig)-1 {
						// Heun lists every inner sigma twice.
						if sig[k] != sig[k-1] {
							t.Fatalf("Heun sigmas[%d] %v != sigmas[%d] %v", k, sig[k], k-1, sig[k-1])
						}
						continue
					}
					distinct = append(distinct, sig[k])
				}
				for k := 1; k < len(distinct); k++ {
					if !(distinct[k] < distinct[k-1]) {
						t.Fatalf("sigmas not descending at %d: %v after %v (all %v)", k, distinct[k], distinct[k-1], sig)
					}
				}
				if sig[len(sig)-1] < 0 {
					t.Fatalf("final sigma %v < 0", sig[len(sig)-1])
				}
				N := float64(s.Config().NumTrainTimesteps)
				for i, ts := range s.Timesteps() {
					if ts < 0 || ts > N {
						t.Fatalf("timestep[%d] = %v outside [0, %v]", i, ts, N)
					}
				}
			})
		}
	}
}

// TestFlowMatchEndpoints: flow-match schedules start at pure noise
// (sigma 1, timestep N) and end at the data (sigma 0); inverted ones run
// the other way; shift_terminal ends the last step at the terminal value.
func TestFlowMatchEndpoints(t *testing.T) {
	mu := 0.9
	tests := []struct {
		name        string
		p           TimestepParams
		over        []string
		first, last float64
	}{
		{"shift 1", TimestepParams{Steps: 10}, nil, 1, 0},
		{"shift 3", TimestepParams{Steps: 4}, []string{"shift=3.0"}, 1, 0},
		{"dynamic", TimestepParams{Steps: 6, Mu: &mu}, []string{"use_dynamic_shifting=true"}, 1, 0},
		{"flux sigmas", TimestepParams{Steps: 3, Mu: &mu, Sigmas: []float64{1, 2.0 / 3, 1.0 / 3}}, []string{"use_dynamic_shifting=true"}, 1, 0},
		{"inverted", TimestepParams{Steps: 5}, []string{"shift=3.0", "invert_sigmas=true"}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := p2Scheduler(t, ClassFlowMatchEulerDiscrete, tc.p, tc.over...)
			sig := sigmasOf(t, s)
			if sig[0] != tc.first || sig[len(sig)-1] != tc.last {
				t.Errorf("sigmas run %v .. %v, want %v .. %v", sig[0], sig[len(sig)-1], tc.first, tc.last)
			}
			if got, want := s.Timesteps()[0], tc.first*1000; got != want {
				t.Errorf("first timestep %v, want %v", got, want)
			}
			if s.InitNoiseSigma() != 1 {
				t.Errorf("InitNoiseSigma %v, want 1", s.InitNoiseSigma())
			}
		})
	}
	t.Run("shift_terminal", func(t *testing.T) {
		s := p2Scheduler(t, ClassFlowMatchEulerDiscrete, TimestepParams{Steps: 8}, "shift=3.0", "shift_terminal=0.25")
		sig := sigmasOf(t, s)
		if got := sig[len(sig)-2]; math.Abs(got-0.25) > 1e-6 {
			t.Errorf("last sigma before 0 is %v, want 0.25", got)
		}
	})
}

// TestFlowMatchScaleNoise checks AddNoise (diffusers' scale_noise) and
// ScaleModelInput.
func TestFlowMatchScaleNoise(t *testing.T) {
	s := p2Scheduler(t, ClassFlowMatchEulerDiscrete, TimestepParams{Steps: 4}, "shift=3.0")
	x0 := []float32{1, -2, 0.5}
	z := []float32{0.25, 1, -1}
	dst := make([]float32, 3)
	for i, ts := range s.Timesteps() {
		sg := float32(sigmasOf(t, s)[i])
		s.AddNoise(dst, x0, z, ts)
		for k := range dst {
			if want := sg*z[k] + (1-sg)*x0[k]; dst[k] != want {
				t.Fatalf("t=%v: AddNoise[%d] = %v, want %v", ts, k, dst[k], want)
			}
		}
	}
	s.ScaleModelInput(dst, x0, 1)
	for k := range dst {
		if dst[k] != x0[k] {
			t.Fatalf("ScaleModelInput changed the sample: %v", dst)
		}
	}
}

// TestCalculateShift checks the Flux/SD3 mu at both ends and the middle of
// the sequence-length range.
func TestCalculateShift(t *testing.T) {
	tests := []struct {
		seq  int
		want float64
	}{{256, 0.5}, {4096, 1.15}, {2176, 0.825}, {4, 0.5 - 252*0.65/3840}}
	for _, tc := range tests {
		if got := CalculateShift(tc.seq, 256, 4096, 0.5, 1.15); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("CalculateShift(%d) = %v, want %v", tc.seq, got, tc.want)
		}
	}
}

// TestHeunLayout checks the doubled timesteps, Order, input scaling and
// init noise sigma of Heun.
func TestHeunLayout(t *testing.T) {
	s := p2Scheduler(t, ClassHeun, TimestepParams{Steps: 3})
	ts := s.Timesteps()
	if len(ts) != 5 || ts[1] != ts[2] || ts[3] != ts[4] || s.Order() != 2 {
		t.Fatalf("timesteps %v (order %d), want 5 with pairs after the first and order 2", ts, s.Order())
	}
	sig := sigmasOf(t, s)
	if s.InitNoiseSigma() != sig[0] {
		t.Errorf("InitNoiseSigma %v, want sigma_max %v for linspace", s.InitNoiseSigma(), sig[0])
	}
	lead := p2Scheduler(t, ClassHeun, TimestepParams{Steps: 3}, "timestep_spacing=leading")
	ls := sigmasOf(t, lead)[0]
	if want := float64(float32(math.Sqrt(ls*ls + 1))); lead.InitNoiseSigma() != want {
		t.Errorf("leading InitNoiseSigma %v, want %v", lead.InitNoiseSigma(), want)
	}
	in, dst := []float32{2, -4}, make([]float32, 2)
	s.ScaleModelInput(dst, in, 2)
	d := float32(math.Sqrt(float64(float32(sig[2])*float32(sig[2]) + 1)))
	if dst[0] != 2/d || dst[1] != -4/d {
		t.Errorf("ScaleModelInput = %v, want %v", dst, []float32{2 / d, -4 / d})
	}
}

// TestPart2AddNoise checks the VP forward process of the multistep
// samplers at a listed timestep.
func TestPart2AddNoise(t *testing.T) {
	for _, class := range []string{ClassDPMSolverMultistep, ClassUniPCMultistep} {
		s := p2Scheduler(t, class, TimestepParams{Steps: 5})
		i := 2
		sg := sigmasOf(t, s)[i]
		a := 1 / math.Sqrt(sg*sg+1)
		x0, z, dst := []float32{1, -1}, []float32{0.5, 2}, make([]float32, 2)
		s.AddNoise(dst, x0, z, s.Timesteps()[i])
		for k := range dst {
			want := a*float64(x0[k]) + sg*a*float64(z[k])
			if math.Abs(float64(dst[k])-want) > 1e-6 {
				t.Errorf("%s: AddNoise[%d] = %v, want %v", class, k, dst[k], want)
			}
		}
	}
}

// TestPart2Errors checks that bad configs, step counts and step inputs are
// errors wrapping the package's sentinels, never panics.
func TestPart2Errors(t *testing.T) {
	newWith := func(class string, over ...string) error {
		cfg, err := DefaultConfig(class)
		if err != nil {
			return err
		}
		if err := cfg.ApplyOverrides(over); err != nil {
			return err
		}
		_, err = New(cfg)
		return err
	}
	configErrors := []struct {
		name  string
		class string
		over  []string
	}{
		{"unknown algorithm", ClassDPMSolverMultistep, []string{"algorithm_type=dpm3"}},
		{"solver order 4", ClassDPMSolverMultistep, []string{"solver_order=4"}},
		{"sde-dpmsolver order 3", ClassDPMSolverMultistep, []string{"algorithm_type=sde-dpmsolver", "solver_order=3", "final_sigmas_type=sigma_min"}},
		{"dpmsolver final zero", ClassDPMSolverMultistep, []string{"algorithm_type=dpmsolver"}},
		{"two sigma schedules", ClassDPMSolverMultistep, []string{"use_karras_sigmas=true", "use_beta_sigmas=true"}},
		{"bad variance type", ClassDPMSolverMultistep, []string{"variance_type=fixed_small"}},
		{"solver_p", ClassUniPCMultistep, []string{`solver_p="DDIMScheduler"`}},
		{"unipc unknown solver", ClassUniPCMultistep, []string{"solver_type=bh3"}},
		{"unipc shift_terminal without flow", ClassUniPCMultistep, []string{"shift_terminal=0.1"}},
		{"heun bad prediction", ClassHeun, []string{"prediction_type=flow_prediction"}},
		{"flow bad shift", ClassFlowMatchEulerDiscrete, []string{"shift=0"}},
		{"flow bad time shift", ClassFlowMatchEulerDiscrete, []string{"time_shift_type=cubic"}},
	}
	for _, tc := range configErrors {
		t.Run("config/"+tc.name, func(t *testing.T) {
			err := newWith(tc.class, tc.over...)
			if !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, ErrUnknownOption) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
	t.Run("constructors reject nil", func(t *testing.T) {
		for _, ctor := range []constructor{newHeunDiscrete, newDPMSolverMultistep, newUniPCMultistep, newFlowMatchEulerDiscrete} {
			if _, err := ctor(nil); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("got %v, want ErrInvalidConfig", err)
			}
		}
	})

	mu := 0.5
	stepErrors := []struct {
		name  string
		class string
		over  []string
		p     TimestepParams
		want  error
	}{
		{"zero steps dpm", ClassDPMSolverMultistep, nil, TimestepParams{}, ErrInvalidSteps},
		{"zero steps unipc", ClassUniPCMultistep, nil, TimestepParams{}, ErrInvalidSteps},
		{"zero steps heun", ClassHeun, nil, TimestepParams{}, ErrInvalidSteps},
		{"zero steps flow", ClassFlowMatchEulerDiscrete, nil, TimestepParams{}, ErrInvalidSteps},
		{"too many steps", ClassDPMSolverMultistep, nil, TimestepParams{Steps: 1001}, ErrInvalidSteps},
		{"negative batch", ClassDPMSolverMultistep, nil, TimestepParams{Steps: 4, Batch: -1}, ErrBadInput},
		{"dpm custom sigmas", ClassDPMSolverMultistep, nil, TimestepParams{Steps: 2, Sigmas: []float64{1, 0.5}}, ErrInvalidConfig},
		{"dpm mu without dynamic", ClassDPMSolverMultistep, nil, TimestepParams{Steps: 2, Mu: &mu}, ErrInvalidConfig},
		{"heun custom sigmas", ClassHeun, nil, TimestepParams{Steps: 2, Sigmas: []float64{1, 0.5}}, ErrInvalidConfig},
		{"unipc sigmas without flow", ClassUniPCMultistep, nil, TimestepParams{Steps: 2, Sigmas: []float64{1, 0.5}}, ErrInvalidConfig},
		{"unipc dynamic without mu", ClassUniPCMultistep, []string{"use_flow_sigmas=true", "use_dynamic_shifting=true"}, TimestepParams{Steps: 4}, ErrInvalidConfig},
		{"flow dynamic without mu", ClassFlowMatchEulerDiscrete, []string{"use_dynamic_shifting=true"}, TimestepParams{Steps: 4}, ErrInvalidConfig},
		{"flow sigma count", ClassFlowMatchEulerDiscrete, nil, TimestepParams{Steps: 3, Sigmas: []float64{1, 0.5}}, ErrInvalidSteps},
		{"flow sigma range", ClassFlowMatchEulerDiscrete, nil, TimestepParams{Steps: 2, Sigmas: []float64{1.5, 0.5}}, ErrBadInput},
		{"flow NaN sigma", ClassFlowMatchEulerDiscrete, nil, TimestepParams{Steps: 2, Sigmas: []float64{math.NaN(), 0.5}}, ErrBadInput},
	}
	for _, tc := range stepErrors {
		t.Run("timesteps/"+tc.name, func(t *testing.T) {
			cfg, err := DefaultConfig(tc.class)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.ApplyOverrides(tc.over); err != nil {
				t.Fatal(err)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetTimesteps(tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("step inputs", func(t *testing.T) {
		for _, class := range []string{ClassDPMSolverMultistep, ClassUniPCMultistep, ClassHeun, ClassFlowMatchEulerDiscrete} {
			cfg, _ := DefaultConfig(class)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, 8)
			if err := s.Step(x, x, x, 0, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: Step before SetTimesteps: got %v", class, err)
			}
			if err := s.SetTimesteps(TimestepParams{Steps: 4, Batch: 3}); err != nil {
				t.Fatal(err)
			}
			if err := s.Step(x, x, x, 0, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: 8 values in batch 3: got %v", class, err)
			}
			if err := s.SetTimesteps(TimestepParams{Steps: 4}); err != nil {
				t.Fatal(err)
			}
			if err := s.Step(x, x[:4], x, 0, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: short model output: got %v", class, err)
			}
			if err := s.Step(x, x, x, len(s.Timesteps()), nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: index past the end: got %v", class, err)
			}
			if err := s.Step(x, x, x, -1, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: negative index: got %v", class, err)
			}
			if class == ClassFlowMatchEulerDiscrete {
				continue
			}
			if err := s.Step(x, x, x, 0, nil); err != nil {
				t.Fatalf("%s: Step 0: %v", class, err)
			}
			if err := s.Step(x, x, x, 2, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: skipped evaluation: got %v", class, err)
			}
		}
	})
	t.Run("stochastic without noise", func(t *testing.T) {
		for _, tc := range []struct {
			class string
			over  []string
		}{
			{ClassDPMSolverMultistep, []string{"algorithm_type=sde-dpmsolver++"}},
			{ClassFlowMatchEulerDiscrete, []string{"stochastic_sampling=true"}},
		} {
			s := p2Scheduler(t, tc.class, TimestepParams{Steps: 3}, tc.over...)
			x := make([]float32, 4)
			if err := s.Step(x, x, x, 0, nil); !errors.Is(err, ErrBadInput) {
				t.Errorf("%s: got %v, want ErrBadInput", tc.class, err)
			}
		}
	})
}

// TestDPMSolverLearnedVariance checks that a learned-variance model output
// (twice the sample's channels) uses its first half per sample.
func TestDPMSolverLearnedVariance(t *testing.T) {
	plain := p2Scheduler(t, ClassDPMSolverMultistep, TimestepParams{Steps: 3, Batch: 2})
	learned := p2Scheduler(t, ClassDPMSolverMultistep, TimestepParams{Steps: 3, Batch: 2}, "variance_type=learned_range")
	const per = 6
	x1, x2 := make([]float32, 2*per), make([]float32, 2*per)
	p2Pattern(x1, 0, 1)
	copy(x2, x1)
	out := make([]float32, 2*per)
	wide := make([]float32, 4*per)
	for i := range plain.Timesteps() {
		p2Pattern(out, i, 2)
		for b := range 2 {
			copy(wide[b*2*per:], out[b*per:(b+1)*per])
			for k := range per {
				wide[b*2*per+per+k] = 99 // variance channels, ignored
			}
		}
		if err := plain.Step(x1, out, x1, i, nil); err != nil {
			t.Fatal(err)
		}
		if err := learned.Step(x2, wide, x2, i, nil); err != nil {
			t.Fatal(err)
		}
		for k := range x1 {
			if x1[k] != x2[k] {
				t.Fatalf("step %d: learned-variance run differs at %d: %v vs %v", i, k, x2[k], x1[k])
			}
		}
	}
}

// TestPart2Reset checks that SetTimesteps restarts the multistep history:
// two identical runs give identical results.
func TestPart2Reset(t *testing.T) {
	for _, tc := range []struct {
		class string
		over  []string
	}{
		{ClassDPMSolverMultistep, []string{"solver_order=3"}},
		{ClassUniPCMultistep, []string{"solver_order=3"}},
		{ClassHeun, nil},
	} {
		class := tc.class
		s := p2Scheduler(t, class, TimestepParams{Steps: 6}, tc.over...)
		run := func() []float32 {
			if err := s.SetTimesteps(TimestepParams{Steps: 6}); err != nil {
				t.Fatal(err)
			}
			x, out := make([]float32, 16), make([]float32, 16)
			p2Pattern(x, 0, 1)
			for i := range s.Timesteps() {
				p2Pattern(out, i, 2)
				if err := s.Step(x, out, x, i, nil); err != nil {
					t.Fatal(err)
				}
			}
			return x
		}
		a, b := run(), run()
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("%s: second run differs at %d: %v vs %v", class, k, b[k], a[k])
			}
		}
	}
}
