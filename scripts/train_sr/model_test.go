package main

import (
	"context"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
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

// bilinearRef is the bilinear enlargement by factor of x [3,n,n] with
// half-pixel centres and edge pixels repeated (PyTorch's
// interpolate(mode="bilinear", align_corners=False)).
func bilinearRef(x []float32, n int) []float32 {
	hi := n * factor
	out := make([]float32, 3*hi*hi)
	for c := range 3 {
		for y := range hi {
			for xx := range hi {
				sy := (float64(y)+0.5)/factor - 0.5
				sx := (float64(xx)+0.5)/factor - 0.5
				y0, x0i := int(math.Floor(sy)), int(math.Floor(sx))
				fy, fx := sy-float64(y0), sx-float64(x0i)
				get := func(yy, xi int) float64 {
					yy, xi = min(max(yy, 0), n-1), min(max(xi, 0), n-1)
					return float64(x[(c*n+yy)*n+xi])
				}
				v := (1-fy)*((1-fx)*get(y0, x0i)+fx*get(y0, x0i+1)) + fy*((1-fx)*get(y0+1, x0i)+fx*get(y0+1, x0i+1))
				out[(c*hi+y)*hi+xx] = float32(v)
			}
		}
	}
	return out
}

// TestBilinearCells: the constant path of the denoiser, laid out back
// as a picture, is the bilinear enlargement of the low-resolution input.
func TestBilinearCells(t *testing.T) {
	testort.Init(t)
	const n = 5
	b := onnxexport.NewBuilder("bilinear")
	low := b.Input("low", onnxexport.Float32, onnxexport.D(1), onnxexport.D(3), onnxexport.D(n), onnxexport.D(n))
	b.Output("up", depthToSpace(b, bilinearCells(b, low, n, n), n, n))
	s := openBuilt(t, b)
	in := make([]float32, 3*n*n)
	for i := range in {
		in[i] = float32(math.Sin(float64(i) * 0.7))
	}
	var up ort.Tensor
	if err := s.Run(context.Background(), map[string]ort.Tensor{"low": {Shape: []int64{1, 3, n, n}, F32: in}}, map[string]*ort.Tensor{"up": &up}); err != nil {
		t.Fatal(err)
	}
	want := bilinearRef(in, n)
	if len(up.F32) != len(want) {
		t.Fatalf("got %d values, want %d", len(up.F32), len(want))
	}
	for i := range want {
		if math.Abs(float64(up.F32[i]-want[i])) > 1e-5 {
			t.Fatalf("value %d = %v, want %v", i, up.F32[i], want[i])
		}
	}
}

// TestExportTakesTrainingWeights: the exported graph (whole pictures) has
// the training graph's (crops') parameters, name for name and shape for
// shape, and runs at 32 → 128.
func TestExportTakesTrainingWeights(t *testing.T) {
	testort.Init(t)
	train, _ := srLoss(3, 2, 8)
	w := map[string]*onnxexport.Tensor{}
	for _, p := range train.Params() {
		w[p.Name] = p.Tensor
	}
	exp := newSRGraph()
	if err := exp.LoadParams(w); err != nil {
		t.Fatal(err)
	}
	if got := len(exp.Params()); got != len(w) {
		t.Fatalf("export has %d parameters, training %d", got, len(w))
	}
	s := openBuilt(t, exp)
	var out ort.Tensor
	feed := map[string]ort.Tensor{
		"sample":      {Shape: []int64{1, 3, highSize, highSize}, F32: make([]float32, 3*highSize*highSize)},
		"image":       {Shape: []int64{1, 3, lowSize, lowSize}, F32: make([]float32, 3*lowSize*lowSize)},
		"timestep":    {Shape: []int64{1}, F32: []float32{500}},
		"noise_level": {Shape: []int64{1}, F32: []float32{20}},
	}
	if err := s.Run(context.Background(), feed, map[string]*ort.Tensor{"out_sample": &out}); err != nil {
		t.Fatal(err)
	}
	if len(out.Shape) != 4 || out.Shape[2] != highSize || out.Shape[3] != highSize {
		t.Fatalf("out_sample %v, want [1 3 %d %d]", out.Shape, highSize, highSize)
	}
}
