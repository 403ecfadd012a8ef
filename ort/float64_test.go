package ort_test

import (
	"context"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

// TestRunFloat64KeepsPrecision checks that F64 data reaches a float64
// input unrounded and that float64 outputs come back in F64.
func TestRunFloat64KeepsPrecision(t *testing.T) {
	testort.Init(t)
	s, err := ort.OpenBytes("add64", ort.Float64AddModel, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := []float64{1 + 1e-12, -3.25, 1e300}
	y := []float64{1e-13, 0.125, 1e300}
	tests := []struct {
		name string
		y    ort.Tensor
		want []float64
	}{
		{"F64 input", ort.Tensor{Shape: []int64{3}, F64: y}, []float64{x[0] + y[0], x[1] + y[1], x[2] + y[2]}},
		{"F32 input widened", ort.Tensor{Shape: []int64{3}, F32: []float32{0.5, 0.25, 0}}, []float64{x[0] + 0.5, x[1] + 0.25, x[2]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := map[string]*ort.Tensor{"z": {}}
			if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{3}, F64: x}, "y": tc.y}, out); err != nil {
				t.Fatal(err)
			}
			got := out["z"]
			if len(got.F64) != 3 || len(got.F32) != 3 {
				t.Fatalf("got F64 %v and F32 %v, want 3 values in each", got.F64, got.F32)
			}
			for i, w := range tc.want {
				if got.F64[i] != w {
					t.Errorf("z[%d]: got %v, want %v", i, got.F64[i], w)
				}
			}
		})
	}
}
