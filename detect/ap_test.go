package detect

import (
	"errors"
	"math"
	"testing"
)

func TestAveragePrecision(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		positive []bool
		want     float64
	}{
		// Positives at ranks 1, 3, 5: precisions 1, 2/3, 3/5, mean 34/45.
		{"hand computed", []float64{0.9, 0.8, 0.7, 0.6, 0.5}, []bool{true, false, true, false, true}, 34.0 / 45},
		{"perfect", []float64{0.1, 0.9, 0.8}, []bool{false, true, true}, 1},
		// A tie enters as one step: recall 0→1/2 at precision 1/2, then
		// 1/2→1 at precision 2/3: 1/4 + 1/3.
		{"tie at the top", []float64{0.8, 0.8, 0.1}, []bool{true, false, true}, 0.25 + 1.0/3},
		// All tied: precision is the positive share at recall 1.
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, false, false}, 0.25},
		{"worst", []float64{0.9, 0.8, 0.1}, []bool{false, false, true}, 1.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AveragePrecision(tt.scores, tt.positive)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAveragePrecisionErrors(t *testing.T) {
	if _, err := AveragePrecision([]float64{0.1, 0.2}, []bool{false, false}); !errors.Is(err, ErrNoPositives) {
		t.Errorf("no positives: got %v, want ErrNoPositives", err)
	}
	if _, err := AveragePrecision([]float64{0.1}, []bool{true, false}); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := AveragePrecision([]float64{math.NaN()}, []bool{true}); err == nil {
		t.Error("NaN score: no error")
	}
}
