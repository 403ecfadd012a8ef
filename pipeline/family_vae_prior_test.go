package pipeline

import (
	"math"
	"testing"
)

func TestPickComponent(t *testing.T) {
	logits := []float32{0, float32(math.Log(3))} // weights 1/4, 3/4
	tests := []struct {
		u    float64
		want int
	}{{0, 0}, {0.2499, 0}, {0.2501, 1}, {0.9999, 1}}
	for _, tt := range tests {
		if got := pickComponent(logits, tt.u); got != tt.want {
			t.Errorf("u %v: component %d, want %d", tt.u, got, tt.want)
		}
	}
}

func TestMixtureLogProb(t *testing.T) {
	// Two components in one dimension: weights 1/4 and 3/4, N(0, 1) and
	// N(2, 0.5²).
	mx := &mixture{logits: []float32{0, float32(math.Log(3))}, mean: []float32{0, 2}, logstd: []float32{0, float32(math.Log(0.5))}, k: 2, z: 1}
	for _, z := range []float32{-1, 0, 1.5, 2, 4} {
		x := float64(z)
		n0 := math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
		n1 := math.Exp(-0.5*((x-2)/0.5)*((x-2)/0.5)) / (0.5 * math.Sqrt(2*math.Pi))
		want := math.Log(0.25*n0 + 0.75*n1)
		if got := mx.logProb([]float32{z}, 1)[0]; math.Abs(got-want) > 1e-5 {
			t.Errorf("log p(%v) = %v, want %v", z, got, want)
		}
	}
}
