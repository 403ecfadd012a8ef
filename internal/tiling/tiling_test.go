package tiling

import (
	"math"
	"testing"
)

func TestStarts(t *testing.T) {
	for _, tc := range []struct {
		n, tile, overlap, align int
		want                    []int
	}{
		{48, 24, 8, 1, []int{0, 16, 24}},
		{64, 64, 16, 1, []int{0}},
		{100, 40, 10, 8, []int{0, 24, 48, 56}},
		{512, 128, 16, 1, []int{0, 112, 224, 336, 384}},
	} {
		got := Starts(tc.n, tc.tile, tc.overlap, tc.align)
		if len(got) != len(tc.want) {
			t.Fatalf("%+v: got %v", tc, got)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%+v: got %v, want %v", tc, got, tc.want)
			}
		}
	}
}

func TestRamp(t *testing.T) {
	for _, tc := range []struct {
		i, n, ov      int
		before, after bool
		want          float32
	}{
		{0, 16, 4, true, true, 0.125},
		{3, 16, 4, true, true, 0.875},
		{4, 16, 4, true, true, 1},
		{15, 16, 4, true, true, 0.125},
		{0, 16, 4, false, true, 1},
		{15, 16, 4, true, false, 1},
		{0, 16, 0, true, true, 1},
	} {
		if got := Ramp(tc.i, tc.n, tc.ov, tc.before, tc.after); got != tc.want {
			t.Errorf("Ramp(%d, %d, %d, %v, %v) = %v, want %v", tc.i, tc.n, tc.ov, tc.before, tc.after, got, tc.want)
		}
	}
}

// TestBlenderKeepsConstants: tiles all holding the same value, laid over
// each other in the way Starts places them, blend to that value at every
// output pixel (the weights are normalized), within a float32 rounding.
func TestBlenderKeepsConstants(t *testing.T) {
	const c, h, w, tile, ov = 2, 50, 37, 16, 5
	vals := []float32{0.3137255, 1, 0, 0.77}
	for _, v := range vals {
		b := NewBlender(c, h, w)
		ys, xs := Starts(h, tile, ov, 1), Starts(w, tile, ov, 1)
		data := make([]float32, c*tile*tile)
		for i := range data {
			data[i] = v
		}
		for yi, y0 := range ys {
			for xi, x0 := range xs {
				b.Add(data, tile, tile, y0, x0, ov, Edges{yi > 0, yi < len(ys)-1, xi > 0, xi < len(xs)-1})
			}
		}
		for i, got := range b.Result() {
			if d := math.Abs(float64(got - v)); d > 1e-6 {
				t.Fatalf("value %v: output %d = %v, off by %g", v, i, got, d)
			}
		}
	}
}
