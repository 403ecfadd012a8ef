package pipeline

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/tiling"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// convModel is a [1, 4, H, W] → [1, 3, H, W] convolution with a k×k
// kernel (k = 1: each output pixel depends on its own input pixel only).
func convModel(t *testing.T, k int64) *ort.Session {
	t.Helper()
	b := onnxexport.NewBuilder("conv")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(4), onnxexport.Sym("h"), onnxexport.Sym("w"))
	w := make([]float32, 3*4*k*k)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*1.3)) / float32(k*k)
	}
	wv := b.Param("w", onnxexport.NewFloat32([]int64{3, 4, k, k}, w))
	y := b.Op("Conv", []*onnxexport.Value{x, wv}, []onnxexport.Attr{onnxexport.IntsAttr("pads", k/2, k/2, k/2, k/2)},
		onnxexport.ValueType{DType: onnxexport.Float32, Shape: onnxexport.Shape{onnxexport.D(1), onnxexport.D(3), onnxexport.Sym("h"), onnxexport.Sym("w")}})[0]
	b.Output("y", y)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(path, m); err != nil {
		t.Fatal(err)
	}
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func smoothInput(h, w int) []float32 {
	x := make([]float32, 4*h*w)
	for c := 0; c < 4; c++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				x[(c*h+y)*w+xx] = float32(math.Sin(float64(y)/5+float64(c)) * math.Cos(float64(xx)/7))
			}
		}
	}
	return x
}

// TestTiledBlendingIsExactForPointwise: with a model whose outputs depend
// on their own pixel only, blending overlapping tiles gives the whole
// picture's values: the ramps add up to one everywhere.
func TestTiledBlendingIsExactForPointwise(t *testing.T) {
	testort.Init(t)
	s := convModel(t, 1)
	const h, w = 50, 37
	x := smoothInput(h, w)
	var whole ort.Tensor
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{1, 4, h, w}, F32: x}}, map[string]*ort.Tensor{"y": &whole}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tile, overlap int }{{16, 4}, {20, 8}, {64, 8}, {13, 5}} {
		got, c, err := tiling.Spec{Session: s, Input: "x", Output: "y", C: 4, H: h, W: w, Num: 1, Den: 1, TileH: tc.tile, TileW: tc.tile, Overlap: tc.overlap}.Run(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if c != 3 || len(got) != len(whole.F32) {
			t.Fatalf("tile %d: %d channels, %d values", tc.tile, c, len(got))
		}
		for i := range got {
			if d := math.Abs(float64(got[i] - whole.F32[i])); d > 1e-5 {
				t.Fatalf("tile %d overlap %d: value %d = %v, whole picture %v", tc.tile, tc.overlap, i, got[i], whole.F32[i])
			}
		}
	}
}

// TestTiledSeams: with a 3×3 convolution the tiles' own borders are wrong
// (zero padding where the picture goes on), but the ramps give those
// pixels little weight: the largest difference from the whole picture
// stays a small fraction of the values' spread, and away from the
// overlaps there is none.
func TestTiledSeams(t *testing.T) {
	testort.Init(t)
	s := convModel(t, 3)
	const h, w = 48, 48
	x := smoothInput(h, w)
	var whole ort.Tensor
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{1, 4, h, w}, F32: x}}, map[string]*ort.Tensor{"y": &whole}); err != nil {
		t.Fatal(err)
	}
	got, _, err := tiling.Spec{Session: s, Input: "x", Output: "y", C: 4, H: h, W: w, Num: 1, Den: 1, TileH: 24, TileW: 24, Overlap: 8}.Run(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	var worst, spread float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range got {
		worst = math.Max(worst, math.Abs(float64(got[i]-whole.F32[i])))
		lo, hi = math.Min(lo, float64(whole.F32[i])), math.Max(hi, float64(whole.F32[i]))
	}
	spread = hi - lo
	t.Logf("largest difference %.4f of a spread of %.4f", worst, spread)
	if worst > 0.05*spread {
		t.Errorf("seam: largest difference %.4f is over 5%% of the spread %.4f", worst, spread)
	}
	// Tiles start at 0, 16 and 24 (the last ends at 48), so columns 16–39
	// are overlaps; row 5, columns 2–13 and 42–45, lie inside one tile.
	for xx := 2; xx < w-2; xx++ {
		if xx >= 14 && xx <= 41 {
			continue
		}
		for c := 0; c < 3; c++ {
			i := (c*h+5)*w + xx
			if d := math.Abs(float64(got[i] - whole.F32[i])); d > 1e-5 {
				t.Fatalf("row 5 column %d, away from every seam, differs by %v", xx, d)
			}
		}
	}
}
