package main

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestPerplexity(t *testing.T) {
	tests := []struct {
		counts []float64
		want   float64
	}{
		{[]float64{1, 1, 1, 1}, 4},
		{[]float64{5, 0, 0}, 1},
		{[]float64{0, 0}, 0},
		{[]float64{1, 3, 0}, math.Exp(-(0.25*math.Log(0.25) + 0.75*math.Log(0.75)))},
	}
	for _, tc := range tests {
		if got := perplexity(tc.counts); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("perplexity(%v): got %v, want %v", tc.counts, got, tc.want)
		}
	}
}

// startedCodebook is 3 codes of dim 2 that have been running: sizes 1,
// sums (1,1), (2,2), (3,3).
func startedCodebook(decay, eps float64, deadAfter int) *codebook {
	c := newCodebook(3, 2, decay, eps, deadAfter)
	c.Started = true
	copy(c.Size, []float64{1, 1, 1})
	copy(c.Sum, []float64{1, 1, 2, 2, 3, 3})
	copy(c.Codes, []float32{1, 1, 2, 2, 3, 3})
	return c
}

// TestCodebookUpdate applies one batch, rows (1,0) and (3,0) to code 0
// and (0,2) to code 2, with decay 0.5: sizes become 1.5, 0.5, 1 and sums
// (2.5,0.5), (1,1), (1.5,2.5). The codes are the sums over the sizes,
// Laplace-smoothed by eps: (n+ε)/(N+Kε)·N with N = 3.
func TestCodebookUpdate(t *testing.T) {
	z := []float32{1, 0, 3, 0, 0, 2}
	idx := []int64{0, 0, 2}
	tests := []struct {
		name  string
		eps   float64
		codes []float32
	}{
		{"no smoothing", 0, []float32{2.5 / 1.5, 0.5 / 1.5, 2, 2, 1.5, 2.5}},
		// smoothed sizes (n+1)/2: 1.25, 0.75, 1.
		{"eps 1", 1, []float32{2, 0.4, 1 / 0.75, 1 / 0.75, 1.5, 2.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startedCodebook(0.5, tc.eps, 100)
			st, err := c.update(7, z, idx, restartRNG(1, 7))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.codes {
				if math.Abs(float64(c.Codes[k]-want)) > 1e-6 {
					t.Errorf("code value %d: got %v, want %v", k, c.Codes[k], want)
				}
			}
			for k, want := range []float64{1.5, 0.5, 1} {
				if math.Abs(c.Size[k]-want) > 1e-12 {
					t.Errorf("size %d: got %v, want %v", k, c.Size[k], want)
				}
			}
			if want := []int{7, 0, 7}; !slices.Equal(c.LastUsed, want) {
				t.Errorf("last used: got %v, want %v", c.LastUsed, want)
			}
			want := updateStats{Perplexity: perplexity([]float64{2, 0, 1}), Used: 2}
			if st != want {
				t.Errorf("stats: got %+v, want %+v", st, want)
			}
		})
	}
}

// TestCodebookRestarts checks which codes restart: those unchosen for
// DeadAfter steps or more, each put on one of the batch's encoder
// outputs with the weight of one output.
func TestCodebookRestarts(t *testing.T) {
	z := []float32{1, 0, 3, 0, 0, 2, 5, 5}
	rows := [][]float32{{1, 0}, {3, 0}, {0, 2}, {5, 5}}
	tests := []struct {
		name          string
		lastUsed      []int
		wantRestarted []int
	}{
		{"none dead", []int{4, 4, 4}, nil},
		{"code 1 unchosen for 2 steps", []int{4, 3, 4}, []int{1}},
		{"codes 1 and 2 dead", []int{0, 3, 2}, []int{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startedCodebook(0.5, 0, 2)
			copy(c.LastUsed, tc.lastUsed)
			st, err := c.update(5, z, []int64{0, 0, 0, 0}, restartRNG(1, 5))
			if err != nil {
				t.Fatal(err)
			}
			if st.Restarted != len(tc.wantRestarted) || c.Restarts != len(tc.wantRestarted) {
				t.Errorf("restarted %d (total %d), want %d", st.Restarted, c.Restarts, len(tc.wantRestarted))
			}
			for _, k := range tc.wantRestarted {
				code := c.Codes[2*k : 2*k+2]
				if !slices.ContainsFunc(rows, func(r []float32) bool { return slices.Equal(r, code) }) {
					t.Errorf("code %d restarted at %v, not an encoder output %v", k, code, rows)
				}
				if c.Size[k] != 1 || c.Sum[2*k] != float64(code[0]) || c.Sum[2*k+1] != float64(code[1]) || c.LastUsed[k] != 5 {
					t.Errorf("code %d: size %v sum %v last used %d, want 1, %v, 5", k, c.Size[k], c.Sum[2*k:2*k+2], c.LastUsed[k], code)
				}
			}
		})
	}
}

// TestCodebookStart checks the first update: every code drawn from the
// batch's encoder outputs, the assignments (to all-zero codes) unused.
func TestCodebookStart(t *testing.T) {
	c := newCodebook(4, 2, 0.99, 1e-5, 100)
	z := []float32{1, 0, 3, 0, 0, 2}
	st, err := c.update(1, z, []int64{0, 0, 0}, restartRNG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Started || st.Restarted != 4 {
		t.Fatalf("started %v, restarted %d; want true, 4", c.Started, st.Restarted)
	}
	for k := range 4 {
		code := c.Codes[2*k : 2*k+2]
		found := false
		for r := range 3 {
			found = found || slices.Equal(code, z[2*r:2*r+2])
		}
		if !found || c.Size[k] != 1 || c.LastUsed[k] != 1 {
			t.Errorf("code %d = %v (size %v, last used %d): want a row of %v, size 1, step 1", k, code, c.Size[k], c.LastUsed[k], z)
		}
	}
}

func TestCodebookErrors(t *testing.T) {
	tests := []struct {
		name string
		z    []float32
		idx  []int64
	}{
		{"no rows", nil, nil},
		{"z of another dim", []float32{1, 2, 3}, []int64{0, 1}},
		{"index out of range", []float32{1, 2, 3, 4}, []int64{0, 3}},
		{"negative index", []float32{1, 2, 3, 4}, []int64{-1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := startedCodebook(0.5, 0, 10).update(2, tc.z, tc.idx, restartRNG(1, 2)); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// TestCodebookResumeExact runs twelve updates straight, and again with a
// save and load after the sixth, and wants the same state: a resumed
// training run moves and restarts the same codes.
func TestCodebookResumeExact(t *testing.T) {
	const k, d, n = 8, 3, 10
	rng := rand.New(rand.NewPCG(5, 6))
	type batch struct {
		z   []float32
		idx []int64
	}
	var batches []batch
	for range 12 {
		var b batch
		for range n {
			b.idx = append(b.idx, int64(rng.IntN(k/2))) // half the codes die
			for range d {
				b.z = append(b.z, float32(rng.NormFloat64()))
			}
		}
		batches = append(batches, b)
	}
	run := func(c *codebook, from, to int) {
		for s := from; s <= to; s++ {
			if _, err := c.update(s, batches[s-1].z, batches[s-1].idx, restartRNG(9, s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	straight := newCodebook(k, d, 0.9, 1e-5, 3)
	run(straight, 1, 12)
	resumed := newCodebook(k, d, 0.9, 1e-5, 3)
	run(resumed, 1, 6)
	path := filepath.Join(t.TempDir(), "vq.codebook")
	if err := resumed.save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := loadCodebook(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, resumed) {
		t.Fatalf("loaded codebook differs from the saved one")
	}
	run(loaded, 7, 12)
	if straight.Restarts == 0 {
		t.Fatal("no restarts: the test does not exercise them")
	}
	if !reflect.DeepEqual(loaded, straight) {
		t.Errorf("resumed state differs: restarts %d vs %d, codes %v vs %v", loaded.Restarts, straight.Restarts, loaded.Codes, straight.Codes)
	}
}
