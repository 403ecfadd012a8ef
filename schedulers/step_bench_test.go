package schedulers

import "testing"

// cheapNoise fills a fixed value, so that the benchmarks time the step
// math rather than a generator.
type cheapNoise struct{}

func (cheapNoise) Randn(dst []float32) {
	for i := range dst {
		dst[i] = 0.5
	}
}

// BenchmarkStep times one Step on a 1x4x128x128 latent (an SD 1.x 1024px
// or SDXL 1024px latent has 4x128x128 values), in place, after a warm-up
// step so that scratch buffers exist.
func BenchmarkStep(b *testing.B) {
	const n = 1 * 4 * 128 * 128
	cases := []struct {
		name  string
		class string
		p     TimestepParams
		opts  []string
	}{
		{"Euler", ClassEuler, TimestepParams{Steps: 30}, nil},
		{"EulerAncestral", ClassEulerAncestral, TimestepParams{Steps: 30}, nil},
		{"DDIM", ClassDDIM, TimestepParams{Steps: 30}, nil},
		{"DDIM_eta1", ClassDDIM, TimestepParams{Steps: 30, Eta: 1}, nil},
		{"DDPM", ClassDDPM, TimestepParams{Steps: 30}, nil},
		{"PNDM", ClassPNDM, TimestepParams{Steps: 30}, []string{"skip_prk_steps=true"}},
		{"LCM", ClassLCM, TimestepParams{Steps: 4}, nil},
		{"DDIM_thresholding", ClassDDIM, TimestepParams{Steps: 30}, []string{"thresholding=true"}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			s := mustScheduler(b, bc.class, bc.p, bc.opts...)
			x, out := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], out[i] = float32(i%17)*0.1, float32(i%5)*0.2
			}
			// Warm up past PNDM's history ramp so that every buffer exists.
			for i := range min(6, len(s.Timesteps())) {
				if err := s.Step(x, out, x, i, cheapNoise{}); err != nil {
					b.Fatal(err)
				}
			}
			i := 1
			b.ReportAllocs()
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := s.Step(x, out, x, i, cheapNoise{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
