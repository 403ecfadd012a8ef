package schedulers

import (
	"math"
	"slices"
	"testing"
)

// fakeNoise is a deterministic stand-in for the seeded generator: it
// counts its draws and fills a fixed pattern (or zeros).
type fakeNoise struct {
	calls int
	zero  bool
}

func (f *fakeNoise) Randn(dst []float32) {
	f.calls++
	for i := range dst {
		if f.zero {
			dst[i] = 0
		} else {
			dst[i] = float32(math.Sin(float64(7*i+13*f.calls))) * 1.5
		}
	}
}

// pair is a clean sample x0 and a noise direction eps.
func pair(n int) (x0, eps []float32) {
	x0, eps = make([]float32, n), make([]float32, n)
	for i := range x0 {
		x0[i] = float32(math.Cos(float64(i))) * 0.8
		eps[i] = float32(math.Sin(float64(3*i + 1)))
	}
	return x0, eps
}

// oracle returns what a perfect model predicts for x0 and eps at alpha_bar
// a in the requested parametrization.
func oracle(pt PredictionType, x0, eps []float32, a float64, out []float32) {
	sa, sb := float32(math.Sqrt(a)), float32(math.Sqrt(1-a))
	for i := range out {
		switch pt {
		case PredictV:
			out[i] = sa*eps[i] - sb*x0[i]
		case PredictSample:
			out[i] = x0[i]
		default:
			out[i] = eps[i]
		}
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestAlphaSamplersWithOracle runs the deterministic alpha-space samplers
// with a perfect model: every step must land exactly on the forward
// process at the next timestep, so the run ends at
// sqrt(ab_final)*x0 + sqrt(1-ab_final)*eps.
func TestAlphaSamplersWithOracle(t *testing.T) {
	tests := []struct {
		class string
		opts  []string
		steps int
	}{
		{ClassDDIM, nil, 10},
		{ClassDDIM, []string{"prediction_type=v_prediction", "steps_offset=1"}, 7},
		{ClassDDIM, []string{"prediction_type=sample", "clip_sample=false"}, 5},
		{ClassDDIM, []string{"set_alpha_to_one=false", "beta_schedule=scaled_linear", "beta_start=0.00085", "beta_end=0.012"}, 20},
		{ClassDDIM, []string{"beta_schedule=squaredcos_cap_v2"}, 8},
		{ClassDDIM, []string{"rescale_betas_zero_snr=true", "prediction_type=v_prediction"}, 6},
		{ClassDDIM, []string{"thresholding=true", "prediction_type=v_prediction", "sample_max_value=2"}, 4},
		// With an epsilon model the noise prediction is the same at every
		// timestep, so PNDM's multistep combinations are exact too.
		{ClassPNDM, []string{"skip_prk_steps=true"}, 10},
		{ClassPNDM, []string{"skip_prk_steps=true", "set_alpha_to_one=true"}, 12},
		{ClassPNDM, nil, 10},
		{ClassPNDM, []string{"skip_prk_steps=true"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.class+"/"+itoa(tc.steps), func(t *testing.T) {
			s := mustScheduler(t, tc.class, TimestepParams{Steps: tc.steps}, tc.opts...)
			ac, _ := rawAlphasCumprod(s.Config())
			n := 64
			x0, eps := pair(n)
			x := make([]float32, n)
			s.AddNoise(x, x0, eps, s.Timesteps()[0])
			out := make([]float32, n)
			noise := &fakeNoise{}
			for i, ts := range s.Timesteps() {
				s.ScaleModelInput(out, x, i)
				oracle(s.Config().PredictionType, x0, eps, ac[int(ts)], out)
				if err := s.Step(x, out, x, i, noise); err != nil {
					t.Fatalf("Step %d: %v", i, err)
				}
			}
			final := 1.0
			if !s.Config().SetAlphaToOne {
				final = ac[0]
			}
			want := make([]float32, n)
			sa, sb := float32(math.Sqrt(final)), float32(math.Sqrt(1-final))
			for i := range want {
				want[i] = sa*x0[i] + sb*eps[i]
			}
			if d := maxDiff(x, want); d > 2e-4 {
				t.Errorf("end of run differs from the forward process by %g", d)
			}
			if noise.calls != 0 {
				t.Errorf("deterministic sampler drew noise %d times", noise.calls)
			}
		})
	}
}

// TestSigmaSamplersWithOracle runs Euler with a perfect model: x = x0 +
// sigma*eps must map to x0 + sigma_next*eps each step.
func TestSigmaSamplersWithOracle(t *testing.T) {
	tests := []struct {
		class string
		opts  []string
		steps int
	}{
		{ClassEuler, nil, 10},
		{ClassEuler, []string{"use_karras_sigmas=true"}, 9},
		{ClassEuler, []string{"prediction_type=v_prediction", "timestep_spacing=trailing"}, 6},
		{ClassEuler, []string{"prediction_type=sample", "use_beta_sigmas=true"}, 6},
		{ClassEuler, []string{"final_sigmas_type=sigma_min", "use_exponential_sigmas=true"}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.class+"/"+itoa(tc.steps), func(t *testing.T) {
			s := mustScheduler(t, tc.class, TimestepParams{Steps: tc.steps}, tc.opts...)
			sig := s.(interface{ Sigmas() []float64 }).Sigmas()
			n := 64
			x0, eps := pair(n)
			x := make([]float32, n)
			s.AddNoise(x, x0, eps, s.Timesteps()[0])
			in, out := make([]float32, n), make([]float32, n)
			noise := &fakeNoise{zero: true}
			for i := range s.Timesteps() {
				s.ScaleModelInput(in, x, i)
				// In sigma space the matching alpha_bar is 1/(sigma^2+1).
				oracle(s.Config().PredictionType, x0, eps, 1/(sig[i]*sig[i]+1), out)
				if err := s.Step(x, out, x, i, noise); err != nil {
					t.Fatalf("Step %d: %v", i, err)
				}
			}
			last := sig[len(sig)-1]
			if noise.calls != 0 {
				t.Errorf("Euler drew noise %d times", noise.calls)
			}
			want := make([]float32, n)
			for i := range want {
				want[i] = x0[i] + float32(last)*eps[i]
			}
			if d := maxDiff(x, want); d > 2e-4 {
				t.Errorf("end of run differs from x0 + sigma_last*eps by %g", d)
			}
		})
	}
}

// TestSingleSteps checks one step of each sampler against its formula
// evaluated in float64 with the scheduler's own alphas.
func TestSingleSteps(t *testing.T) {
	n := 16
	x, out := pair(n)
	ac := func(s Scheduler) []float64 { a, _ := rawAlphasCumprod(s.Config()); return a }

	t.Run("DDIM eta=1", func(t *testing.T) {
		s := mustScheduler(t, ClassDDIM, TimestepParams{Steps: 10, Eta: 1}, "clip_sample=false")
		a := ac(s)
		noise := &fakeNoise{}
		dst := make([]float32, n)
		if err := s.Step(dst, out, x, 2, noise); err != nil {
			t.Fatal(err)
		}
		z := make([]float32, n)
		(&fakeNoise{}).Randn(z)
		at, ap := a[700], a[600]
		v := (1 - ap) / (1 - at) * (1 - at/ap)
		std := math.Sqrt(v)
		for k := range dst {
			x0 := (float64(x[k]) - math.Sqrt(1-at)*float64(out[k])) / math.Sqrt(at)
			want := math.Sqrt(ap)*x0 + math.Sqrt(1-ap-std*std)*float64(out[k]) + std*float64(z[k])
			if math.Abs(float64(dst[k])-want) > 1e-5 {
				t.Fatalf("[%d]: got %v, want %v", k, dst[k], want)
			}
		}
		if noise.calls != 1 {
			t.Fatalf("noise drawn %d times, want 1", noise.calls)
		}
	})
	t.Run("DDIM eta=0 deterministic", func(t *testing.T) {
		s := mustScheduler(t, ClassDDIM, TimestepParams{Steps: 10})
		d1, d2 := make([]float32, n), make([]float32, n)
		noise := &fakeNoise{}
		_ = s.Step(d1, out, x, 3, noise)
		_ = s.Step(d2, out, x, 3, noise)
		if maxDiff(d1, d2) != 0 || noise.calls != 0 {
			t.Fatalf("eta=0 not deterministic: diff %g, %d draws", maxDiff(d1, d2), noise.calls)
		}
	})
	t.Run("DDPM posterior", func(t *testing.T) {
		s := mustScheduler(t, ClassDDPM, TimestepParams{Steps: 10}, "clip_sample=false")
		a := ac(s)
		noise := &fakeNoise{}
		dst := make([]float32, n)
		if err := s.Step(dst, out, x, 0, noise); err != nil {
			t.Fatal(err)
		}
		z := make([]float32, n)
		(&fakeNoise{}).Randn(z)
		at, ap := a[900], a[800]
		curB := 1 - at/ap
		v := (1 - ap) / (1 - at) * curB
		for k := range dst {
			x0 := (float64(x[k]) - math.Sqrt(1-at)*float64(out[k])) / math.Sqrt(at)
			mean := math.Sqrt(ap)*curB/(1-at)*x0 + math.Sqrt(at/ap)*(1-ap)/(1-at)*float64(x[k])
			want := mean + math.Sqrt(v)*float64(z[k])
			if math.Abs(float64(dst[k])-want) > 1e-5 {
				t.Fatalf("[%d]: got %v, want %v", k, dst[k], want)
			}
		}
		// The last step (t = 0) draws no noise.
		if err := s.Step(dst, out, x, 9, noise); err != nil {
			t.Fatal(err)
		}
		if noise.calls != 1 {
			t.Fatalf("noise drawn %d times, want 1", noise.calls)
		}
	})
	t.Run("DDPM clip_sample", func(t *testing.T) {
		s := mustScheduler(t, ClassDDPM, TimestepParams{Steps: 10}, "clip_sample=true", "clip_sample_range=0.5", "prediction_type=sample")
		big := make([]float32, n)
		for k := range big {
			big[k] = 3
		}
		a := ac(s)
		dst := make([]float32, n)
		if err := s.Step(dst, big, x, 9, nil); err != nil {
			t.Fatal(err)
		}
		at := a[0]
		for k := range dst {
			want := math.Sqrt(1)*(1-at)/(1-at)*0.5 + 0*float64(x[k])
			if math.Abs(float64(dst[k])-want) > 1e-6 {
				t.Fatalf("[%d]: got %v, want %v", k, dst[k], want)
			}
		}
	})
	t.Run("LCM boundary condition", func(t *testing.T) {
		s := mustScheduler(t, ClassLCM, TimestepParams{Steps: 4})
		a := ac(s)
		noise := &fakeNoise{}
		dst := make([]float32, n)
		for i := range 4 {
			if err := s.Step(dst, out, x, i, noise); err != nil {
				t.Fatal(err)
			}
		}
		if noise.calls != 3 {
			t.Fatalf("noise drawn %d times, want 3 (all steps but the last)", noise.calls)
		}
		tl := s.Timesteps()[3]
		at := a[int(tl)]
		c := tl * 10
		cSkip, cOut := 0.25/(c*c+0.25), c/math.Sqrt(c*c+0.25)
		for k := range dst {
			x0 := (float64(x[k]) - math.Sqrt(1-at)*float64(out[k])) / math.Sqrt(at)
			want := cOut*x0 + cSkip*float64(x[k])
			if math.Abs(float64(dst[k])-want) > 1e-4 {
				t.Fatalf("[%d]: got %v, want %v", k, dst[k], want)
			}
		}
	})
	t.Run("Euler a", func(t *testing.T) {
		// From x = x0 + sigma_i*eps a perfect model leads to x0 +
		// sigma_down*eps + sigma_up*z, with sigma_up^2 + sigma_down^2 =
		// sigma_{i+1}^2 (k-diffusion's get_ancestral_step, eta = 1).
		for _, pt := range []string{"epsilon", "v_prediction"} {
			s := mustScheduler(t, ClassEulerAncestral, TimestepParams{Steps: 6}, "prediction_type="+pt)
			sig := s.(interface{ Sigmas() []float64 }).Sigmas()
			x0, eps := pair(n)
			noise := &fakeNoise{}
			for i := range 6 {
				from, to := sig[i], sig[i+1]
				up := math.Sqrt(to * to * (from*from - to*to) / (from * from))
				down := math.Sqrt(to*to - up*up)
				xi, mo, dst := make([]float32, n), make([]float32, n), make([]float32, n)
				for k := range xi {
					xi[k] = x0[k] + float32(from)*eps[k]
				}
				oracle(s.Config().PredictionType, x0, eps, 1/(from*from+1), mo)
				if err := s.Step(dst, mo, xi, i, noise); err != nil {
					t.Fatal(err)
				}
				z := make([]float32, n)
				(&fakeNoise{calls: noise.calls - 1}).Randn(z)
				for k := range dst {
					want := float64(x0[k]) + down*float64(eps[k]) + up*float64(z[k])
					if math.Abs(float64(dst[k])-want) > 2e-4*max(1, from) {
						t.Fatalf("%s step %d [%d]: got %v, want %v", pt, i, k, dst[k], want)
					}
				}
			}
			if noise.calls != 6 {
				t.Fatalf("noise drawn %d times, want once per step, the last included", noise.calls)
			}
		}
	})
	t.Run("thresholding", func(t *testing.T) {
		// With ratio 1 and a large max, s is max|x0|: x0 is scaled into
		// [-1, 1] exactly.
		v := []float32{-4, 2, 1, 0.5}
		thresholdSample(v, 1, 1, 10, make([]float32, 4))
		want := []float32{-1, 0.5, 0.25, 0.125}
		if maxDiff(v, want) > 1e-7 {
			t.Fatalf("got %v, want %v", v, want)
		}
		// Two samples threshold independently; s never drops below 1.
		v = []float32{-4, 2, 0.5, -0.25}
		thresholdSample(v, 2, 1, 10, make([]float32, 2))
		want = []float32{-1, 0.5, 0.5, -0.25}
		if maxDiff(v, want) > 1e-7 {
			t.Fatalf("got %v, want %v", v, want)
		}
		if q := quantile([]float32{5, 1, 4, 2, 3}, 0.995); math.Abs(q-4.98) > 1e-6 {
			t.Fatalf("quantile: got %v, want 4.98", q)
		}
		// Quickselect agrees with sorting, duplicates and sorted input
		// included.
		for _, size := range []int{1, 2, 3, 10, 101, 1000} {
			for _, pattern := range []func(i int) float32{
				func(i int) float32 { return float32((i * 7919) % 97) },
				func(i int) float32 { return float32(i % 3) },
				func(i int) float32 { return float32(i) },
			} {
				v := make([]float32, size)
				for i := range v {
					v[i] = pattern(i)
				}
				sorted := slices.Clone(v)
				slices.Sort(sorted)
				for _, q := range []float64{0, 0.5, 0.9, 0.995, 1} {
					pos := q * float64(size-1)
					lo := int(math.Floor(pos))
					hi := min(lo+1, size-1)
					want := float64(sorted[lo]) + (pos-float64(lo))*float64(sorted[hi]-sorted[lo])
					if got := quantile(slices.Clone(v), q); math.Abs(got-want) > 1e-9 {
						t.Fatalf("size %d q %v: got %v, want %v", size, q, got, want)
					}
				}
			}
		}
	})
}

// TestImg2Img checks diffusers' get_timesteps arithmetic.
func TestImg2Img(t *testing.T) {
	tests := []struct {
		steps    int
		strength float64
		want     int
	}{
		{10, 1, 0}, {10, 0.8, 2}, {10, 0.75, 3}, {10, 0.05, 10}, {50, 0.3, 35}, {3, 0.5, 2},
	}
	for _, tc := range tests {
		s := mustScheduler(t, ClassDDIM, TimestepParams{Steps: tc.steps})
		got, err := Img2ImgBegin(s, tc.steps, tc.strength)
		if tc.want == tc.steps {
			if err == nil {
				t.Errorf("steps %d strength %v: want an error (no steps left), got begin %d", tc.steps, tc.strength, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("steps %d strength %v: got %d, %v; want %d", tc.steps, tc.strength, got, err, tc.want)
		}
	}
}
