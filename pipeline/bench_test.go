package pipeline_test

import (
	"context"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

// BenchmarkGenerate times whole text-to-image runs on the tiny conformance
// checkpoints and splits each denoising step into time inside ONNX Runtime
// (ort-ms/step) and the host's own work (host-us/step, host-%): scheduler
// math, guidance, copies. The host share is what imagegen adds on top of
// the model.
func BenchmarkGenerate(b *testing.B) {
	testort.Init(b)
	cases := []struct {
		ckpt, sched string
		w, h        int
		t5          int
	}{
		{"sd1-tiny", "Euler", 64, 64, 0},
		{"sd1-tiny", "DPM++ 2M", 128, 128, 0},
		{"sdxl-tiny", "Euler", 64, 64, 0},
		{"sd3-tiny", "", 64, 64, 0},
		// The tiny Flux export has its token count traced in: 32x32, 32 T5 tokens.
		{"flux-tiny", "", 32, 32, 32},
	}
	for _, c := range cases {
		b.Run(c.ckpt+"/"+c.sched+"/"+itoa(c.w), func(b *testing.B) {
			p, err := pipeline.Load(context.Background(), conformance.Dir(b, c.ckpt), pipeline.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			req := pipeline.Request{Prompts: []string{"a red circle above a blue square"}, Steps: 10, Scheduler: c.sched, Width: c.w, Height: c.h, MaxSequenceLength: c.t5}
			var tm pipeline.Timings
			steps := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := p.Generate(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				tm.Denoiser += res.Timings.Denoiser
				tm.Host += res.Timings.Host
				tm.TextEncode += res.Timings.TextEncode
				tm.VAE += res.Timings.VAE
				steps += len(res.Timesteps)
			}
			b.ReportMetric(float64(tm.Denoiser.Microseconds())/float64(steps)/1000, "ort-ms/step")
			b.ReportMetric(float64(tm.Host.Microseconds())/float64(steps), "host-us/step")
			b.ReportMetric(100*float64(tm.Host)/float64(tm.Host+tm.Denoiser), "host-%")
			b.ReportMetric(float64(tm.VAE.Microseconds())/float64(b.N)/1000, "vae-ms/op")
		})
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
