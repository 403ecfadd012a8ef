package main

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// bruteNearest returns the index of the nearest row of codes [K*D] to
// each row of z, the first on ties.
func bruteNearest(z, codes []float32, d int) []int64 {
	var out []int64
	for r := 0; r < len(z)/d; r++ {
		best, bestDist := -1, math.Inf(1)
		for k := 0; k < len(codes)/d; k++ {
			var dist float64
			for j := range d {
				e := float64(z[r*d+j] - codes[k*d+j])
				dist += e * e
			}
			if dist < bestDist {
				best, bestDist = k, dist
			}
		}
		out = append(out, int64(best))
	}
	return out
}

// TestTrainingStepQuantizes runs training steps with a random codebook
// set as the host input and checks that the indices the step reports are
// the codes nearest to the encoder outputs it reports.
func TestTrainingStepQuantizes(t *testing.T) {
	testort.Init(t)
	a := arch{grid: 16, codes: 64, dim: 8}
	b, loss, cb, err := vqLoss(a, 1, 2, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1}, cb)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := onnxexport.NewTrainer(g, pictures{n: 8, outline: 10}, onnxexport.TrainerOptions{Schedule: onnxexport.LRSchedule{Peak: 1e-3, Total: 10}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 2 {
		codes := make([]float32, a.codes*a.dim)
		for i := range codes {
			codes[i] = float32(rng.NormFloat64() * 0.5)
		}
		if err := tr.SetHost(codebookInput, ort.Tensor{F32: codes}); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		z, err := tr.Aux(auxZ)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := tr.Aux(auxIndices)
		if err != nil {
			t.Fatal(err)
		}
		if n := int(2 * a.grid * a.grid); len(idx.I64) != n || len(z.F32) != n*int(a.dim) {
			t.Fatalf("step %d: %d indices and %d encoder values, want %d and %d", step+1, len(idx.I64), len(z.F32), n, n*int(a.dim))
		}
		want := bruteNearest(z.F32, codes, int(a.dim))
		// Float rounding may flip near-ties; allow a few.
		differ := 0
		for i := range want {
			if idx.I64[i] != want[i] {
				differ++
			}
		}
		if differ > len(want)/100 {
			t.Errorf("step %d: %d of %d indices are not the nearest code", step+1, differ, len(want))
		}
	}
}

// TestExportedGraphs runs the inference graphs on random weights: the
// encoder's indices are the nearest codes in range, the decoder maps
// them to pictures of the contract's shape inside [-1, 1].
func TestExportedGraphs(t *testing.T) {
	testort.Init(t)
	for _, a := range []arch{{grid: 16, codes: 32, dim: 8}, {grid: 8, codes: 16, dim: 4}} {
		enc, dec := encoderGraph(a), decoderGraph(a)
		open := func(b *onnxexport.Builder) *ort.Session {
			m, err := b.Build(onnxexport.WithFloat16Weights())
			if err != nil {
				t.Fatal(err)
			}
			raw, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ort.OpenBytes(b.Name(), raw, ort.Options{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		es, ds := open(enc), open(dec)
		defer es.Close()
		defer ds.Close()
		const n = 3
		x := make([]float32, n*3*imageSize*imageSize)
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		idx := map[string]*ort.Tensor{"indices": {}}
		if err := es.Run(context.Background(), map[string]ort.Tensor{"sample": {Shape: []int64{n, 3, imageSize, imageSize}, F32: x}}, idx); err != nil {
			t.Fatal(err)
		}
		if want := []int64{n, a.grid, a.grid}; !slices.Equal(idx["indices"].Shape, want) {
			t.Fatalf("grid %d: indices shape %v, want %v", a.grid, idx["indices"].Shape, want)
		}
		for _, i := range idx["indices"].I64 {
			if i < 0 || i >= a.codes {
				t.Fatalf("grid %d: index %d outside [0, %d)", a.grid, i, a.codes)
			}
		}
		out := map[string]*ort.Tensor{"sample": {}}
		if err := ds.Run(context.Background(), map[string]ort.Tensor{"indices": *idx["indices"]}, out); err != nil {
			t.Fatal(err)
		}
		if want := []int64{n, 3, imageSize, imageSize}; !slices.Equal(out["sample"].Shape, want) {
			t.Fatalf("grid %d: sample shape %v, want %v", a.grid, out["sample"].Shape, want)
		}
		for _, v := range out["sample"].F32 {
			if v < -1 || v > 1 {
				t.Fatalf("grid %d: sample value %v outside [-1, 1]", a.grid, v)
			}
		}
	}
}
