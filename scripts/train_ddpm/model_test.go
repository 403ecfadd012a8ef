package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

func openBuilt(t *testing.T, b *onnxexport.Builder) *ort.Session {
	t.Helper()
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.OpenBytes(b.Name(), data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSpaceToDepth: the stem puts pixel (2y+dy, 2x+dx) of color c in
// channel 4c + 2dy + dx of cell (y, x), and the head undoes it exactly.
func TestSpaceToDepth(t *testing.T) {
	testort.Init(t)
	b := onnxexport.NewBuilder("s2d")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	cells := spaceToDepth(b, x)
	b.Output("cells", cells)
	b.Output("back", depthToSpace(b, cells))
	s := openBuilt(t, b)
	in := make([]float32, 2*3*imageSize*imageSize)
	for i := range in {
		in[i] = float32(i)
	}
	var gotCells, back ort.Tensor
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{2, 3, imageSize, imageSize}, F32: in}},
		map[string]*ort.Tensor{"cells": &gotCells, "back": &back}); err != nil {
		t.Fatal(err)
	}
	for i, v := range back.F32 {
		if v != in[i] {
			t.Fatalf("round trip: value %d = %v, want %v", i, v, in[i])
		}
	}
	for n := range 2 {
		for c := range 3 {
			for py := range imageSize {
				for px := range imageSize {
					ch := c*stem*stem + (py%stem)*stem + px%stem
					got := gotCells.F32[((n*bodyChannels+ch)*bodySize+py/stem)*bodySize+px/stem]
					if want := in[((n*3+c)*imageSize+py)*imageSize+px]; got != want {
						t.Fatalf("picture %d pixel (%d,%d) color %d: cell value %v, want %v", n, py, px, c, got, want)
					}
				}
			}
		}
	}
}

// TestClassifierGradient: the exported guidance graph's grad output is
// the derivative of its log_prob output, checked by central differences
// at random pixels of a network with random weights.
func TestClassifierGradient(t *testing.T) {
	testort.Init(t)
	tb, _ := classifierLoss(3, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	w := map[string]*onnxexport.Tensor{}
	for _, p := range tb.Params() {
		w[p.Name] = p.Tensor
	}
	b, err := newClassifierGradGraph(w)
	if err != nil {
		t.Fatal(err)
	}
	s := openBuilt(t, b)
	scene, err := shapes.ParsePrompt("a red circle above a blue square")
	if err != nil {
		t.Fatal(err)
	}
	labels := shapes.ShapeLabels(scene)
	x := make([]float32, 3*imageSize*imageSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	run := func(x []float32) (grad []float32, lp float64) {
		t.Helper()
		var g, l ort.Tensor
		err := s.Run(context.Background(), map[string]ort.Tensor{
			"sample":   {Shape: []int64{1, 3, imageSize, imageSize}, F32: x},
			"timestep": {Shape: []int64{}, F32: []float32{300}},
			"labels":   {Shape: []int64{1, shapes.ShapeLabelSize}, F32: labels},
		}, map[string]*ort.Tensor{"grad": &g, "log_prob": &l})
		if err != nil {
			t.Fatal(err)
		}
		return g.F32, float64(l.F32[0])
	}
	grad, _ := run(x)
	const h = 1e-2
	for range 8 {
		i := rng.IntN(len(x))
		xp := append([]float32(nil), x...)
		xp[i] += h
		_, lp := run(xp)
		xp[i] -= 2 * h
		_, lm := run(xp)
		fd := (lp - lm) / (2 * h)
		t.Logf("pixel %d: grad %.5g, finite difference %.5g", i, grad[i], fd)
		if d := math.Abs(fd - float64(grad[i])); d > 2e-4+1e-2*math.Abs(fd) {
			t.Errorf("pixel %d: grad %v, finite difference %v", i, grad[i], fd)
		}
	}
}
