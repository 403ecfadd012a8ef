package onnxexport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testort"
)

// benchDiTConfig reads the DiT size from IMAGEGEN_DIT_BENCH
// ("batch,channels,size,patch,hidden,depth,heads", as
// scripts/bench_dit_train.py passes it), defaulting to a small DiT.
func benchDiTConfig(b *testing.B) (DiTConfig, int64) {
	cfg := DiTConfig{InChannels: 4, Size: 16, Patch: 2, Hidden: 128, Depth: 4, Heads: 4}
	batch := int64(8)
	if s := os.Getenv("IMAGEGEN_DIT_BENCH"); s != "" {
		if _, err := fmt.Sscanf(s, "%d,%d,%d,%d,%d,%d,%d", &batch, &cfg.InChannels, &cfg.Size, &cfg.Patch, &cfg.Hidden, &cfg.Depth, &cfg.Heads); err != nil {
			b.Fatalf("IMAGEGEN_DIT_BENCH=%q: %v", s, err)
		}
	}
	return cfg, batch
}

// constantData returns the same (sample, timestep, target) example every
// time, so the benchmark times the training step, not data generation.
type constantData struct{ sample, target []float32 }

func (d constantData) Len() int { return 64 }
func (d constantData) Example(i int, _ *rand.Rand, dst []ExampleSlot) error {
	copy(dst[0].F32, d.sample)
	dst[1].F32[0] = float32(i * 13 % 1000)
	copy(dst[2].F32, d.target)
	return nil
}

// BenchmarkDiTTrainStep times one whole DiT training step (forward, MSE,
// backward, clipping, AdamW, EMA) in ONNX Runtime through the Trainer, and
// reports the median step time; scripts/bench_dit_train.py compares it with
// the same step in PyTorch.
func BenchmarkDiTTrainStep(b *testing.B) {
	testort.Init(b)
	cfg, batch := benchDiTConfig(b)
	lb, loss := NewDiTLoss(cfg, 1, batch, 0)
	g, err := NewTrainGraph(lb, loss, AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		b.Fatal(err)
	}
	n := int(cfg.InChannels * cfg.Size * cfg.Size)
	rng := rand.New(rand.NewPCG(1, 2))
	d := constantData{sample: make([]float32, n), target: make([]float32, n)}
	for i := range n {
		d.sample[i], d.target[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	tr, err := NewTrainer(g, d, TrainerOptions{Schedule: LRSchedule{Peak: 1e-4, Min: 1e-5, Warmup: 10, Total: 1000}})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ctx := context.Background()
	for range 3 { // warm up: first runs allocate ORT's arenas
		if _, err := tr.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]float64, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := tr.Step(ctx); err != nil {
			b.Fatal(err)
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	b.StopTimer()
	sort.Float64s(times)
	b.ReportMetric(times[len(times)/2], "ms/step-median")
	b.ReportMetric(float64(g.numParams()), "params")
}

func (g *TrainGraph) numParams() int64 {
	var n int64
	for _, p := range g.Params {
		n += p.Init.NumElements()
	}
	return n
}
