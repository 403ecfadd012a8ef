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

var tinyConfig = config{Channels: 8, Layers: 3, Head: 4, CondMap: 4}

// randomWeights are the training graph's parameters with every tensor
// (the zero-initialized position map too) drawn at random, so that no
// path through the network is silent.
func randomWeights(cfg config) map[string]*onnxexport.Tensor {
	b, _ := trainLoss(cfg, 3, 1, 0)
	rng := rand.New(rand.NewPCG(4, 5))
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		v := make([]float32, p.Tensor.NumElements())
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
		w[p.Name] = onnxexport.NewFloat32(p.Tensor.Shape, v)
	}
	return w
}

func openGraph(t *testing.T, b *onnxexport.Builder, w map[string]*onnxexport.Tensor) *ort.Session {
	t.Helper()
	if err := b.LoadParams(w); err != nil {
		t.Fatal(err)
	}
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

func randomPicture(rng *rand.Rand) []float32 {
	x := make([]float32, subpixels)
	for i := range x {
		x[i] = pixelValue(uint8(rng.IntN(levels)))
	}
	return x
}

func testCondition(t *testing.T) []float32 {
	c, err := shapes.Condition("a large red circle at the top left")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runFull(t *testing.T, s *ort.Session, x, c []float32) []float32 {
	t.Helper()
	out := map[string]*ort.Tensor{outLogits: {}}
	in := map[string]ort.Tensor{
		inSample:    {Shape: []int64{1, 3, imageSize, imageSize}, F32: x},
		inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: c},
	}
	if err := s.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out[outLogits].F32
}

// subpixel is a position in the sampling order: row y, column x,
// channel ch.
type subpixel struct{ y, x, ch int }

func (p subpixel) index() int { return (p.y*imageSize+p.x)*3 + p.ch }

// TestFullGraphIsCausal perturbs single input subpixels and checks that
// the logits of every subpixel at or before it in the sampling order do
// not move, and that the ones the gated stacks should reach do, the
// pixels up and to the right included (the plain PixelCNN's blind spot).
func TestFullGraphIsCausal(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	s := openGraph(t, fullGraph(cfg), randomWeights(cfg))
	rng := rand.New(rand.NewPCG(1, 2))
	x, c := randomPicture(rng), testCondition(t)
	base := runFull(t, s, x, c)
	logit := func(l []float32, p subpixel, k int) float32 {
		return l[((p.ch*levels+k)*imageSize+p.y)*imageSize+p.x]
	}
	moved := func(l []float32, p subpixel) bool {
		for k := range levels {
			if logit(l, p, k) != logit(base, p, k) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		changed subpixel
		reaches []subpixel
	}{
		{subpixel{5, 7, 0}, []subpixel{{5, 7, 1}, {5, 7, 2}, {5, 8, 0}, {6, 7, 0}, {6, 4, 0}, {7, 10, 2}}},
		{subpixel{5, 7, 1}, []subpixel{{5, 7, 2}, {5, 8, 0}}},
		{subpixel{5, 9, 2}, []subpixel{{5, 10, 0}, {6, 8, 1}, {6, 11, 0}}},
		{subpixel{0, 31, 0}, []subpixel{{1, 30, 0}, {1, 31, 0}}},
		{subpixel{31, 0, 0}, []subpixel{{31, 1, 0}}},
	} {
		xp := append([]float32(nil), x...)
		k := (tc.changed.ch*imageSize+tc.changed.y)*imageSize + tc.changed.x
		xp[k] = -xp[k] + 0.5
		got := runFull(t, s, xp, c)
		for y := range imageSize {
			for i := range imageSize {
				for ch := range 3 {
					p := subpixel{y, i, ch}
					if p.index() <= tc.changed.index() && moved(got, p) {
						t.Errorf("changing %v moved the logits of %v, which come before it", tc.changed, p)
					}
				}
			}
		}
		for _, p := range tc.reaches {
			if !moved(got, p) {
				t.Errorf("changing %v did not reach %v", tc.changed, p)
			}
		}
	}
}

// TestRowGraphsMatchFull checks that the cached formulation (vstack on
// a window of rows, then hrow on one row) gives the full graph's logits,
// for rows whose window starts at the top and rows whose window does not.
func TestRowGraphsMatchFull(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	w := randomWeights(cfg)
	full := openGraph(t, fullGraph(cfg), w)
	vs := openGraph(t, vstackGraph(cfg), w)
	hr := openGraph(t, hrowGraph(cfg), w)
	rng := rand.New(rand.NewPCG(7, 8))
	x, c := randomPicture(rng), testCondition(t)
	want := runFull(t, full, x, c)
	win := int(cfg.window())
	width := cfg.Layers * 2 * int(cfg.Channels)
	for _, y := range []int{0, 1, win - 1, win, 17, imageSize - 1} {
		start := max(0, y-(win-1))
		xw := make([]float32, 3*win*imageSize)
		for ch := range 3 {
			copy(xw[ch*win*imageSize:(ch+1)*win*imageSize], x[(ch*imageSize+start)*imageSize:(ch*imageSize+start+win)*imageSize])
		}
		lo := map[string]*ort.Tensor{outLinks: {}}
		if err := vs.Run(context.Background(), map[string]ort.Tensor{
			inSample:    {Shape: []int64{1, 3, int64(win), imageSize}, F32: xw},
			inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: c},
			inRowStart:  {Shape: []int64{1}, I64: []int64{int64(start)}},
		}, lo); err != nil {
			t.Fatal(err)
		}
		links := make([]float32, width*imageSize)
		for k := range width {
			copy(links[k*imageSize:(k+1)*imageSize], lo[outLinks].F32[(k*win+y-start)*imageSize:])
		}
		row := make([]float32, 3*imageSize)
		for ch := range 3 {
			copy(row[ch*imageSize:(ch+1)*imageSize], x[(ch*imageSize+y)*imageSize:])
		}
		ho := map[string]*ort.Tensor{outLogits: {}}
		if err := hr.Run(context.Background(), map[string]ort.Tensor{
			inRow:   {Shape: []int64{1, 3, 1, imageSize}, F32: row},
			inLinks: {Shape: []int64{1, int64(width), 1, imageSize}, F32: links},
		}, ho); err != nil {
			t.Fatal(err)
		}
		for ch := range 3 {
			for k := range levels {
				for i := range imageSize {
					got := ho[outLogits].F32[(ch*levels+k)*imageSize+i]
					wantV := want[((ch*levels+k)*imageSize+y)*imageSize+i]
					if math.Abs(float64(got-wantV)) > 1e-3*(1+math.Abs(float64(wantV))) {
						t.Fatalf("row %d: logit (ch %d, level %d, column %d) = %v, want %v (full graph)", y, ch, k, i, got, wantV)
					}
				}
			}
		}
	}
}

// TestWeightedLossWithUnitWeights checks that the weighted loss with all
// weights 1 is the plain cross-entropy, and that edgeWeights marks the
// pixels that differ from their left or upper neighbour.
func TestWeightedLossWithUnitWeights(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	w := randomWeights(cfg)
	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, subpixels)
	labels := make([]int64, subpixels)
	planes(s.Image.Pix, s.Image.Stride, x, labels)
	c, err := shapes.Condition(s.Caption)
	if err != nil {
		t.Fatal(err)
	}
	dims := []int64{1, 3, imageSize, imageSize}
	in := map[string]ort.Tensor{
		inSample:    {Shape: dims, F32: x},
		"labels":    {Shape: dims, I64: labels},
		inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: c},
	}
	loss := func(edge float64) float32 {
		b, l := trainLoss(cfg, 3, 1, edge)
		b.Output("loss", b.Reshape(l, 1))
		out := map[string]*ort.Tensor{"loss": {}}
		if err := openGraph(t, b, w).Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		return out["loss"].F32[0]
	}
	plain := loss(0)
	ones := make([]float32, subpixels)
	for i := range ones {
		ones[i] = 1
	}
	in["weights"] = ort.Tensor{Shape: dims, F32: ones}
	if weighted := loss(3); math.Abs(float64(weighted-plain)) > 1e-5*math.Abs(float64(plain)) {
		t.Errorf("weighted loss with unit weights %v, plain cross-entropy %v", weighted, plain)
	}

	// A 32x32 picture, black with one white pixel at (5, 7): it and the
	// pixels right of it and below it differ from a neighbour.
	pix := make([]uint8, 4*imageSize*imageSize)
	for i := 3; i < len(pix); i += 4 {
		pix[i] = 255
	}
	for c := range 3 {
		pix[(5*imageSize+7)*4+c] = 255
	}
	got := make([]float32, subpixels)
	edgeWeights(pix, 4*imageSize, 2, got)
	for y := range imageSize {
		for i := range imageSize {
			want := float32(1)
			if (y == 5 && (i == 7 || i == 8)) || (y == 6 && i == 7) {
				want = 3
			}
			for ch := range 3 {
				if v := got[(ch*imageSize+y)*imageSize+i]; v != want {
					t.Fatalf("weight at (%d, %d, %d) = %v, want %v", y, i, ch, v, want)
				}
			}
		}
	}
}
