package main

import (
	"context"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// TestGrowIdentity checks that the UNet grown by cross-attention at its
// top level, started from the smaller UNet's weights with growIdentity,
// computes what the smaller one computes, and that it has new weights
// to learn: each new block's output projection, zeroed.
func TestGrowIdentity(t *testing.T) {
	small := modelConfig(40, false).UNet
	grown := modelConfig(40, true).UNet
	from := onnxexport.NewUNetGraph(small, 5)
	to := onnxexport.NewUNetGraph(grown, 6)
	if err := from.Err(); err != nil {
		t.Fatal(err)
	}
	if err := to.Err(); err != nil {
		t.Fatal(err)
	}
	prev := map[string]*onnxexport.Tensor{}
	for _, p := range from.Params() {
		prev[p.Name] = p.Tensor
	}
	init := map[string]*onnxexport.Tensor{}
	for _, p := range to.Params() {
		init[p.Name] = p.Tensor
	}
	taken, zeroed := growIdentity(init, prev)
	if taken != len(prev) {
		t.Errorf("took %d of the smaller UNet's %d tensors", taken, len(prev))
	}
	// A weight and a bias per new transformer: one in down_blocks.0, two
	// in the last up block (LayersPerBlock+1 resnets, each followed by an
	// attention).
	if want := 2 * (1 + 2); zeroed != want {
		t.Errorf("zeroed %d output projections, want %d", zeroed, want)
	}
	if taken+zeroed >= len(init) {
		t.Errorf("no new tensors besides the zeroed projections (%d of %d)", taken+zeroed, len(init))
	}
	if err := to.LoadParams(init); err != nil {
		t.Fatal(err)
	}
	s := grown.SampleSize
	in := map[string]ort.Tensor{
		"sample":                {Shape: []int64{1, grown.InChannels, s, s}, F32: wave(int(grown.InChannels*s*s), 0.7)},
		"timestep":              {Shape: []int64{}, F32: []float32{400}},
		"encoder_hidden_states": {Shape: []int64{1, contextLength, grown.CrossAttentionDim}, F32: wave(contextLength*int(grown.CrossAttentionDim), 0.3)},
	}
	a, b := runUNet(t, from, in), runUNet(t, to, in)
	if len(a) != len(b) {
		t.Fatalf("outputs of %d and %d values", len(a), len(b))
	}
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	if worst > 1e-4 {
		t.Errorf("grown UNet differs from the one it grew from by up to %g", worst)
	}
}

func wave(n int, f float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i) * f))
	}
	return v
}

func runUNet(t *testing.T, b *onnxexport.Builder, in map[string]ort.Tensor) []float32 {
	t.Helper()
	testort.Init(t)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ort.OpenBytes("unet", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out := map[string]*ort.Tensor{"out_sample": {}}
	if err := sess.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out["out_sample"].F32
}

func TestRepeatOrder(t *testing.T) {
	got := repeatOrder(5, 3, func(i int) bool { return i%2 == 1 })
	want := []int{0, 1, 1, 1, 2, 3, 3, 3, 4}
	if !slices.Equal(got, want) {
		t.Errorf("repeatOrder(5, 3, odd) = %v, want %v", got, want)
	}
	if got := repeatOrder(3, 0, func(int) bool { return true }); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("repeatOrder with repeat 0 = %v, want each picture once", got)
	}
}

// TestEdgeWeights checks that exactly the pixels with a differently
// colored neighbour get the boost: a 2x2 square on a 6x6 picture has a
// 4x4 ring of them, border included, and the corners of the picture
// none.
