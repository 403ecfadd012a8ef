package schedulers

import (
	"testing"
	"time"
)

// benchPart2Step times one Step on a 1x4x128x128 latent at steady state
// (full multistep history). The schedule is long so that the timed steps
// are inner ones; it restarts, untimed, when it runs out. Besides wall time
// it reports cpu-ns/op, the thread's CPU time per step, which stays
// meaningful when the machine is shared.
func benchPart2Step(b *testing.B, class string, p TimestepParams, over ...string) {
	lockThread()
	defer unlockThread()
	s := p2Scheduler(b, class, p, over...)
	const n = 1 * 4 * 128 * 128
	x, out := make([]float32, n), make([]float32, n)
	p2Pattern(x, 0, 1)
	p2Pattern(out, 1, 2)
	noise := &p2Noise{}
	steps := len(s.Timesteps()) - 1 // keep the final (lower-order) step out
	i := 0
	// Warm up: fill the history and allocate the buffers.
	for ; i < 4; i++ {
		if err := s.Step(x, out, x, i, noise); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(4 * n)
	b.ResetTimer()
	var cpu time.Duration
	start := threadCPUTime()
	for range b.N {
		if i == steps {
			cpu += threadCPUTime() - start
			b.StopTimer()
			if err := s.SetTimesteps(p); err != nil {
				b.Fatal(err)
			}
			for i = 0; i < 4; i++ {
				if err := s.Step(x, out, x, i, noise); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start = threadCPUTime()
		}
		if err := s.Step(x, out, x, i, noise); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cpu += threadCPUTime() - start
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkDPMSolverPP2MStep(b *testing.B) {
	benchPart2Step(b, ClassDPMSolverMultistep, TimestepParams{Steps: 500})
}

func BenchmarkDPMSolverPP3MSDEStep(b *testing.B) {
	benchPart2Step(b, ClassDPMSolverMultistep, TimestepParams{Steps: 500}, "algorithm_type=sde-dpmsolver++", "solver_order=3")
}

func BenchmarkUniPCStep(b *testing.B) {
	benchPart2Step(b, ClassUniPCMultistep, TimestepParams{Steps: 500})
}

func BenchmarkHeunStep(b *testing.B) {
	benchPart2Step(b, ClassHeun, TimestepParams{Steps: 500})
}

func BenchmarkFlowMatchEulerStep(b *testing.B) {
	benchPart2Step(b, ClassFlowMatchEulerDiscrete, TimestepParams{Steps: 500}, "shift=3.0")
}
