package pipeline

import (
	"math"
	"testing"
)

func TestFrameGuidance(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
	}{{1, 3, 14}, {1, 3, 25}, {1, 2.5, 4}, {2, 2, 3}, {1, 3, 1}}
	for _, tc := range tests {
		g := frameGuidance(tc.lo, tc.hi, tc.n)
		if len(g) != tc.n || g[0] != float32(tc.lo) {
			t.Fatalf("linspace(%g, %g, %d) = %v: want %d values from %g", tc.lo, tc.hi, tc.n, g, tc.n, tc.lo)
		}
		if tc.n > 1 && g[tc.n-1] != float32(tc.hi) {
			t.Errorf("linspace(%g, %g, %d) ends at %v, want exactly %g", tc.lo, tc.hi, tc.n, g[tc.n-1], tc.hi)
		}
		for i, v := range g {
			want := tc.lo
			if tc.n > 1 {
				want += (tc.hi - tc.lo) * float64(i) / float64(tc.n-1)
			}
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Errorf("linspace(%g, %g, %d)[%d] = %v, want %v", tc.lo, tc.hi, tc.n, i, v, want)
			}
		}
	}
}

func TestCombineCFGFrames(t *testing.T) {
	// Two clips of three frames of two values: uncond 1, cond 3, so each
	// value is 1 + 2·g of its frame.
	scales := []float32{1, 1.5, 2}
	const clips, frames, size = 2, 3, 2
	n := clips * frames * size
	out := make([]float32, 2*n)
	for i := range n {
		out[i], out[n+i] = 1, 3
	}
	dst := make([]float32, n)
	combineCFGFrames(dst, out, scales, size)
	for i, v := range dst {
		want := 1 + 2*scales[(i/size)%frames]
		if v != want {
			t.Errorf("dst[%d] = %v, want %v (frame %d)", i, v, want, (i/size)%frames)
		}
	}
}

func TestSVDAddedTimeIDs(t *testing.T) {
	ids := svdAddedTimeIDs(6, 127, 0.02, 2)
	want := []float32{6, 127, 0.02, 6, 127, 0.02}
	if len(ids.Shape) != 2 || ids.Shape[0] != 2 || ids.Shape[1] != 3 {
		t.Fatalf("shape %v, want [2, 3]", ids.Shape)
	}
	for i, v := range ids.F32 {
		if v != want[i] {
			t.Errorf("added_time_ids[%d] = %v, want %v", i, v, want[i])
		}
	}
}
