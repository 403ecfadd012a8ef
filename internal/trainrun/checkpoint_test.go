package trainrun_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// line is y = 3x + 1 sampled at random x.
type line struct{}

func (line) Len() int { return 64 }

func (line) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	x := rng.Float32()
	dst[0].F32[0], dst[1].F32[0] = x, 3*x+1
	return nil
}

func lineGraph(t *testing.T) *onnxexport.TrainGraph {
	t.Helper()
	b := onnxexport.NewBuilder("line")
	l := onnxexport.NewLayers(b, 1)
	x := b.Input("x", onnxexport.Float32, onnxexport.D(4), onnxexport.D(1))
	y := b.Input("y", onnxexport.Float32, onnxexport.D(4), onnxexport.D(1))
	d := b.Sub(l.Linear("fit", x, 1, true), y)
	g, err := onnxexport.NewTrainGraph(b, b.ReduceMean(b.Mul(d, d), false), onnxexport.AdamWConfig{EMADecay: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestCheckpointWeights: the weights read back from a phase's checkpoint
// (raw and EMA) are those the phase returned.
func TestCheckpointWeights(t *testing.T) {
	testort.Init(t)
	ctx := context.Background()
	o := trainrun.Options{State: t.TempDir(), Every: 5, Seed: 1, Threads: 1}
	for _, ema := range []bool{false, true} {
		name := map[bool]string{false: "raw", true: "ema"}[ema]
		want, err := trainrun.Phase(ctx, o, name, lineGraph(t), line{}, 10, 1e-2, ema)
		if err != nil {
			t.Fatal(err)
		}
		got, err := trainrun.CheckpointWeights(ctx, o, name, lineGraph(t), line{}, ema)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d tensors, want %d", name, len(got), len(want))
		}
		for k, w := range want {
			if !slices.Equal(got[k].Float32, w.Float32) {
				t.Errorf("%s: %s = %v, want %v", name, k, got[k].Float32, w.Float32)
			}
		}
	}
}
