package main

import (
	"math"
	"testing"
)

func TestLikelihoodTerms(t *testing.T) {
	x := make([]float32, pixels)
	mu := make([]float32, pixels)
	x[0] = 0.5 // one red value off by 0.5
	// Σ over D values of (log σ + ½ln2π), minus ½(0.5/σ_r)² for the red one.
	logStd := [3]float64{math.Log(0.5), 0, -1}
	per := float64(pixels / 3)
	wantLL := -0.5 - per*(math.Log(0.5)+0+(-1)) - pixels*halfLog2Pi
	tests := []struct {
		name      string
		got, want float64
	}{
		{"logLikelihood", logLikelihood(x, mu, logStd), wantLL},
		{"logPrior", logPrior([]float32{1, 0}), -0.5 - 2*halfLog2Pi},
		// z = mean + σ: −½ − ½lv − ½ln2π with lv = ln 4.
		{"logPosterior", logPosterior([]float32{3}, []float32{1}, []float32{float32(math.Log(4))}), -0.5 - 0.5*math.Log(4) - halfLog2Pi},
		{"iwae k=1", iwaeBound([]float64{-3}), -3},
		// log ½(e⁻¹ + e⁻³) written out.
		{"iwae k=2", iwaeBound([]float64{-1, -3}), math.Log(0.5 * (math.Exp(-1) + math.Exp(-3)))},
		{"iwae huge", iwaeBound([]float64{-1000, -1000}), -1000},
		// A density of 1 per unit volume in [-1, 1] units is 128 bins per
		// unit: log₂(256/2) = 7 bits per value.
		{"bitsPerDim 0", bitsPerDim(0), 7},
		{"bitsPerDim 1 nat", bitsPerDim(pixels * math.Ln2), 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if math.Abs(tc.got-tc.want) > 1e-9*(1+math.Abs(tc.want)) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	t.Run("klPerDim", func(t *testing.T) {
		dst := make([]float64, 2)
		sum := klPerDim([]float32{1, 0}, []float32{0, float32(math.Ln2)}, dst)
		want := []float64{0.5, 0.5 * (2 - 1 - math.Ln2)}
		for i := range want {
			if math.Abs(dst[i]-want[i]) > 1e-7 {
				t.Errorf("dimension %d: got %v, want %v", i, dst[i], want[i])
			}
		}
		if math.Abs(sum-want[0]-want[1]) > 1e-7 {
			t.Errorf("sum: got %v, want %v", sum, want[0]+want[1])
		}
	})
}

func TestDequantize(t *testing.T) {
	pix := make([]uint8, 4*imageSize*imageSize)
	pix[0], pix[1], pix[2] = 0, 255, 128
	dst := make([]float32, pixels)
	dequantize(pix, 4*imageSize, nil, dst)
	per := imageSize * imageSize
	// Bin centres: (v + ½)·2/256 − 1.
	for i, want := range []float64{-1 + 1.0/256, 1 - 1.0/256, 1.0 / 256} {
		if got := float64(dst[i*per]); math.Abs(got-want) > 1e-7 {
			t.Errorf("channel %d: got %v, want %v", i, got, want)
		}
	}
	dequantize(pix, 4*imageSize, func() float64 { return 0 }, dst)
	if got := dst[per]; got != float32(255*binWidth-1) {
		t.Errorf("low edge of 255: got %v, want %v", got, 255*binWidth-1)
	}
}

func TestKLWeight(t *testing.T) {
	for _, tc := range []struct {
		step, warmup int
		want         float32
	}{{0, 100, 0}, {50, 100, 0.5}, {100, 100, 1}, {500, 100, 1}, {3, 0, 1}} {
		if got := klWeight(tc.step, tc.warmup); got != tc.want {
			t.Errorf("klWeight(%d, %d): got %v, want %v", tc.step, tc.warmup, got, tc.want)
		}
	}
}
