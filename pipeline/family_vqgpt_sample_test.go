package pipeline

import (
	"errors"
	"math"
	"testing"
)

func TestSampleToken(t *testing.T) {
	// Probabilities at temperature 1: 0.1, 0.2, 0.3, 0.4 (ids 0..3).
	logits := []float32{float32(math.Log(0.1)), float32(math.Log(0.2)), float32(math.Log(0.3)), float32(math.Log(0.4))}
	tests := []struct {
		name string
		s    tokenSampling
		u    float64
		want int
	}{
		{"plain, first share", tokenSampling{1, 0, 1}, 0.05, 0},
		{"plain, second share", tokenSampling{1, 0, 1}, 0.25, 1},
		{"plain, last share", tokenSampling{1, 0, 1}, 0.99, 3},
		{"top-k 1 is argmax", tokenSampling{1, 1, 1}, 0.99, 3},
		// Top 2 (ids 3, 2) renormalized: 4/7 then 3/7, in that order.
		{"top-k 2, low u", tokenSampling{1, 2, 1}, 0.5, 3},
		{"top-k 2, high u", tokenSampling{1, 2, 1}, 0.6, 2},
		// Top-p 0.5: 0.4 < 0.5, 0.4+0.3 ≥ 0.5, so ids 3 and 2.
		{"top-p 0.5 keeps two", tokenSampling{1, 0, 0.5}, 0.99, 2},
		{"top-p 0.35 keeps one", tokenSampling{1, 0, 0.35}, 0.99, 3},
		// A low temperature sharpens towards the argmax: at 0.05 id 3
		// holds (0.4/0.3)^20 ≈ 315 times id 2's weight.
		{"cold", tokenSampling{0.05, 0, 1}, 0.99, 3},
		{"cold, low u still argmax", tokenSampling{0.05, 0, 1}, 0.01, 3},
	}
	sc := newTokenScratch(len(logits))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sampleToken(logits, tt.s, tt.u, sc)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("token %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSampleTokenTiesAndNaN(t *testing.T) {
	sc := newTokenScratch(3)
	// Equal logits with top-k 1 keep the lowest id.
	if got, err := sampleToken([]float32{2, 2, 2}, tokenSampling{1, 1, 1}, 0.9, sc); err != nil || got != 0 {
		t.Errorf("ties: token %d (%v), want 0", got, err)
	}
	if _, err := sampleToken([]float32{0, float32(math.NaN()), 1}, tokenSampling{1, 0, 1}, 0.5, sc); !errors.Is(err, ErrNaN) {
		t.Errorf("NaN logits: got %v, want ErrNaN", err)
	}
}

func TestTokenSamplingValidate(t *testing.T) {
	tests := []struct {
		s  tokenSampling
		ok bool
	}{
		{tokenSampling{1, 0, 1}, true},
		{tokenSampling{0.7, 50, 0.9}, true},
		{tokenSampling{0, 0, 1}, false},
		{tokenSampling{-1, 0, 1}, false},
		{tokenSampling{math.NaN(), 0, 1}, false},
		{tokenSampling{math.Inf(1), 0, 1}, false},
		{tokenSampling{1, -1, 1}, false},
		{tokenSampling{1, 0, 0}, false},
		{tokenSampling{1, 0, 1.5}, false},
		{tokenSampling{1, 0, math.NaN()}, false},
	}
	for _, tt := range tests {
		err := tt.s.validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: error %v, want ok %v", tt.s, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Errorf("%+v: %v is not ErrBadRequest", tt.s, err)
		}
	}
}

func TestGuideLogits(t *testing.T) {
	cond, uncond := []float32{1, 2, 3}, []float32{1, 0, 4}
	guideLogits(cond, uncond, 3)
	want := []float32{1, 6, 1} // u + 3(c − u)
	for i := range want {
		if cond[i] != want[i] {
			t.Errorf("logit %d: got %v, want %v", i, cond[i], want[i])
		}
	}
}
