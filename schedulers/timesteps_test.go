package schedulers

import (
	"math"
	"testing"
)

func mustConfig(t testing.TB, class string, overrides ...string) *Config {
	t.Helper()
	c, err := DefaultConfig(class)
	if err != nil {
		t.Fatalf("DefaultConfig(%s): %v", class, err)
	}
	if err := c.ApplyOverrides(overrides); err != nil {
		t.Fatalf("ApplyOverrides(%v): %v", overrides, err)
	}
	return c
}

func mustScheduler(t testing.TB, class string, p TimestepParams, overrides ...string) Scheduler {
	t.Helper()
	s, err := New(mustConfig(t, class, overrides...))
	if err != nil {
		t.Fatalf("New(%s): %v", class, err)
	}
	if err := s.SetTimesteps(p); err != nil {
		t.Fatalf("SetTimesteps: %v", err)
	}
	return s
}

// TestSpacedTimesteps checks the three spacings against values worked out
// by hand from diffusers' formulas: leading = k*(T//n) + offset, trailing =
// round(T - k*T/n) - 1, linspace = round(linspace(0, T-1, n)) (half to
// even), or unrounded float32 for the Euler family.
func TestSpacedTimesteps(t *testing.T) {
	tests := []struct {
		class string
		opts  []string
		steps int
		want  []float64
	}{
		{ClassDDIM, []string{"steps_offset=1"}, 10, []float64{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}},
		{ClassDDIM, nil, 4, []float64{750, 500, 250, 0}},
		{ClassDDIM, nil, 3, []float64{666, 333, 0}},
		{ClassDDIM, []string{"timestep_spacing=trailing"}, 10, []float64{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}},
		{ClassDDIM, []string{"timestep_spacing=trailing"}, 3, []float64{999, 666, 332}},
		{ClassDDIM, []string{"timestep_spacing=linspace"}, 3, []float64{999, 500, 0}},
		{ClassDDIM, []string{"timestep_spacing=linspace"}, 4, []float64{999, 666, 333, 0}},
		{ClassDDPM, []string{"timestep_spacing=linspace"}, 1, []float64{0}},
		{ClassDDPM, []string{"num_train_timesteps=10", "timestep_spacing=leading"}, 3, []float64{6, 3, 0}},
		{ClassEuler, nil, 10, []float64{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}},
		{ClassEuler, nil, 7, []float64{999, 832.5, 666, 499.5, 333, 166.5, 0}},
		{ClassEuler, []string{"timestep_spacing=leading", "steps_offset=1"}, 4, []float64{751, 501, 251, 1}},
		{ClassEulerAncestral, []string{"timestep_spacing=trailing"}, 4, []float64{999, 749, 499, 249}},
		{ClassLCM, []string{"steps_offset=1"}, 4, []float64{999, 759, 499, 259}},
		{ClassLCM, nil, 2, []float64{999, 499}},
		{ClassLCM, nil, 1, []float64{999}},
		{ClassLCM, []string{"original_inference_steps=100"}, 3, []float64{999, 669, 339}},
		// PLMS repeats the second timestep for its warm-up pair.
		{ClassPNDM, []string{"skip_prk_steps=true", "steps_offset=1"}, 10, []float64{901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1}},
		{ClassPNDM, []string{"skip_prk_steps=true"}, 1, []float64{0}},
		// PRK: the last four timesteps, each at t and t + T/n/2, doubled.
		{ClassPNDM, []string{"steps_offset=1"}, 10, []float64{901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.class+"/"+itoa(tc.steps), func(t *testing.T) {
			s := mustScheduler(t, tc.class, TimestepParams{Steps: tc.steps}, tc.opts...)
			assertSame(t, "timesteps", s.Timesteps(), float32s(append([]float64(nil), tc.want...)))
		})
	}
}

func TestLCMStrength(t *testing.T) {
	// strength 0.5 keeps origin timesteps 20*j - 1 for j = 25..1, taken at
	// floor(k * 25/4).
	s := mustScheduler(t, ClassLCM, TimestepParams{Steps: 4, Strength: 0.5})
	assertSame(t, "timesteps", s.Timesteps(), []float64{499, 379, 259, 139})
	begin, err := Img2ImgBegin(s, 4, 0.5)
	if err != nil || begin != 0 {
		t.Fatalf("Img2ImgBegin: got %d, %v; want 0, nil", begin, err)
	}
}

// TestEulerSigmas checks the sigma schedules against the training sigmas
// and the Karras / exponential / beta formulas.
func TestEulerSigmas(t *testing.T) {
	sd := []string{"beta_start=0.00085", "beta_end=0.012", "beta_schedule=scaled_linear"}
	base := mustScheduler(t, ClassEuler, TimestepParams{Steps: 10}, sd...).(*euler)
	train := base.trainSigmas
	sigmaMax, sigmaMin := train[len(train)-1], train[0]
	if math.Abs(sigmaMax-14.6146) > 1e-3 || math.Abs(sigmaMin-0.0292) > 1e-3 {
		t.Fatalf("SD training sigma range [%v, %v], want about [0.0292, 14.6146]", sigmaMin, sigmaMax)
	}
	tests := []struct {
		name  string
		opts  []string
		steps int
		want  func(i, n int) float64 // expected sigma i of n (before the final)
		count int                    // number of sigmas including the final one
		final float64
	}{
		{"linear interpolation", nil, 10, func(i, n int) float64 { return train[999-111*i] }, 11, 0},
		{"fractional interpolation", nil, 7, func(i, n int) float64 {
			t := 999 - 166.5*float64(i)
			lo := int(math.Floor(t))
			return train[lo] + (t-float64(lo))*(train[min(lo+1, 999)]-train[lo])
		}, 8, 0},
		{"karras", []string{"use_karras_sigmas=true"}, 8, func(i, n int) float64 {
			r := float64(i) / float64(n-1)
			hi, lo := math.Pow(sigmaMax, 1/7.0), math.Pow(sigmaMin, 1/7.0)
			return math.Pow(hi+r*(lo-hi), 7)
		}, 9, 0},
		{"karras with overrides", []string{"use_karras_sigmas=true", "sigma_min=0.1", "sigma_max=10"}, 5, func(i, n int) float64 {
			r := float64(i) / float64(n-1)
			hi, lo := math.Pow(10, 1/7.0), math.Pow(0.1, 1/7.0)
			return math.Pow(hi+r*(lo-hi), 7)
		}, 6, 0},
		{"exponential", []string{"use_exponential_sigmas=true"}, 6, func(i, n int) float64 {
			r := float64(i) / float64(n-1)
			return math.Exp(math.Log(sigmaMax) + r*(math.Log(sigmaMin)-math.Log(sigmaMax)))
		}, 7, 0},
		{"sigma_min final", []string{"final_sigmas_type=sigma_min"}, 10, func(i, n int) float64 { return train[999-111*i] }, 11, sigmaMin},
		{"log_linear", []string{"interpolation_type=log_linear"}, 4, func(i, n int) float64 {
			return math.Exp(math.Log(sigmaMax) + float64(i)/float64(n)*(math.Log(sigmaMin)-math.Log(sigmaMax)))
		}, 6, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustScheduler(t, ClassEuler, TimestepParams{Steps: tc.steps}, append(sd, tc.opts...)...).(*euler)
			sig := s.Sigmas()
			if len(sig) != tc.count {
				t.Fatalf("got %d sigmas, want %d", len(sig), tc.count)
			}
			for i := 0; i < len(sig)-1; i++ {
				want := tc.want(i, tc.steps)
				if math.Abs(sig[i]-want) > 2e-6*max(1, want) {
					t.Errorf("sigma[%d]: got %v, want %v", i, sig[i], want)
				}
			}
			if got := sig[len(sig)-1]; got != float32ish(tc.final) {
				t.Errorf("final sigma: got %v, want %v", got, tc.final)
			}
			// Converted schedules map back to timesteps through the
			// log-sigma table: monotone, within [0, 999].
			ts := s.Timesteps()
			for i := 1; i < len(ts); i++ {
				if !(ts[i] < ts[i-1]) || ts[i] < 0 || ts[0] > 999 {
					t.Fatalf("timesteps not strictly decreasing in [0, 999]: %v", ts)
				}
			}
		})
	}
}

// TestSigmasMonotone is the property that every sigma schedule decreases
// strictly from its first to its last value, for many step counts.
func TestSigmasMonotone(t *testing.T) {
	for _, opts := range [][]string{nil, {"use_karras_sigmas=true"}, {"use_exponential_sigmas=true"}, {"use_beta_sigmas=true"}, {"timestep_spacing=trailing"}, {"timestep_spacing=leading"}, {"rescale_betas_zero_snr=true", "timestep_spacing=trailing"}} {
		for _, class := range []string{ClassEuler, ClassEulerAncestral} {
			if class == ClassEulerAncestral && len(opts) > 0 && opts[0] != "timestep_spacing=trailing" && opts[0] != "timestep_spacing=leading" && opts[0] != "rescale_betas_zero_snr=true" {
				continue
			}
			for _, n := range []int{1, 2, 3, 7, 10, 25, 50, 100} {
				s := mustScheduler(t, class, TimestepParams{Steps: n}, opts...).(interface{ Sigmas() []float64 })
				sig := s.Sigmas()
				for i := 1; i < len(sig); i++ {
					if !(sig[i] < sig[i-1]) || math.IsNaN(sig[i]) || math.IsInf(sig[i-1], 0) {
						t.Fatalf("%s %v n=%d: sigmas not strictly decreasing and finite at %d: %v", class, opts, n, i, sig)
					}
				}
			}
		}
	}
}

func TestBetaPPF(t *testing.T) {
	tests := []struct{ q, a, b, want float64 }{
		{0.5, 0.6, 0.6, 0.5},    // symmetric
		{0.3, 1, 1, 0.3},        // uniform
		{0.25, 2, 1, 0.5},       // CDF x^2
		{0.75, 1, 2, 0.5},       // CDF 1-(1-x)^2
		{0.36, 2, 1, 0.6},       // CDF x^2
		{0.0, 0.6, 0.6, 0},      // ends
		{1.0, 0.6, 0.6, 1},      //
		{0.7, 0.5, 0.5, 0.7939}, // arcsine: sin^2(pi*q/2)
	}
	for _, tc := range tests {
		got := betaPPF(tc.q, tc.a, tc.b)
		want := tc.want
		if tc.a == 0.5 {
			want = math.Pow(math.Sin(math.Pi*tc.q/2), 2)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("betaPPF(%v, %v, %v): got %v, want %v", tc.q, tc.a, tc.b, got, want)
		}
	}
}

func TestInitNoiseSigma(t *testing.T) {
	sd := []string{"beta_start=0.00085", "beta_end=0.012", "beta_schedule=scaled_linear"}
	lin := mustScheduler(t, ClassEuler, TimestepParams{Steps: 10}, sd...)
	lead := mustScheduler(t, ClassEuler, TimestepParams{Steps: 10}, append(sd, "timestep_spacing=leading", "steps_offset=1")...)
	ddim := mustScheduler(t, ClassDDIM, TimestepParams{Steps: 10})
	sMax := lin.(*euler).Sigmas()[0]
	sLead := lead.(*euler).Sigmas()[0]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"linspace is sigma max", lin.InitNoiseSigma(), sMax},
		{"leading is sqrt(sigma^2+1)", lead.InitNoiseSigma(), math.Sqrt(sLead*sLead + 1)},
		{"DDIM is 1", ddim.InitNoiseSigma(), 1},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > 1e-5*tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
