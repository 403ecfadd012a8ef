package detect

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// gaussians draws n rows of two classes of 3 features: the classes differ
// in feature 0 only (means ±1.5, unit variance), feature 2 is constant.
func gaussians(n int, seed uint64) ([][]float64, []bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([][]float64, n)
	y := make([]bool, n)
	for i := range x {
		y[i] = i%3 == 0 // unbalanced: a third positive
		mu := -1.5
		if y[i] {
			mu = 1.5
		}
		x[i] = []float64{mu + r.NormFloat64(), 10 + 5*r.NormFloat64(), 7}
	}
	return x, y
}

func TestTrainSeparatesClasses(t *testing.T) {
	x, y := gaussians(600, 1)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.W2[0] < 1 || m.W2[0] < 10*abs(m.W2[1]) {
		t.Errorf("weights %v: want feature 0 to dominate", m.W2)
	}
	if m.Std[2] != 1 || m.W2[2] != 0 {
		t.Errorf("constant feature: scale %v, weight %v; want 1 and 0", m.Std[2], m.W2[2])
	}
	tx, ty := gaussians(600, 2)
	var scores []float64
	correct := 0
	for i, row := range tx {
		p, err := m.Probability(row)
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, p)
		if (p >= 0.5) == ty[i] {
			correct++
		}
	}
	// The Bayes error of N(±1.5, 1) is Φ(-1.5) ≈ 6.7%.
	if acc := float64(correct) / float64(len(tx)); acc < 0.9 {
		t.Errorf("held-out accuracy %.3f, want ≥ 0.9", acc)
	}
	ap, err := AveragePrecision(scores, ty)
	if err != nil || ap < 0.9 {
		t.Errorf("held-out AP %.3f (%v), want ≥ 0.9", ap, err)
	}
}

// TestTrainHiddenLayer fits an XOR-like rule (generated when the two
// features share a sign) that no logistic regression can.
func TestTrainHiddenLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	draw := func(n int) ([][]float64, []bool) {
		x, y := make([][]float64, n), make([]bool, n)
		for i := range x {
			a, b := r.Float64()*2-1, r.Float64()*2-1
			x[i], y[i] = []float64{a, b}, a*b > 0
		}
		return x, y
	}
	x, y := draw(400)
	tx, ty := draw(400)
	accuracy := func(m *Model) float64 {
		correct := 0
		for i, row := range tx {
			p, err := m.Probability(row)
			if err != nil {
				t.Fatal(err)
			}
			if (p >= 0.5) == ty[i] {
				correct++
			}
		}
		return float64(correct) / float64(len(tx))
	}
	mlp, err := Train(x, y, TrainOptions{Hidden: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	linear, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := accuracy(mlp); a < 0.9 {
		t.Errorf("8 hidden units: held-out accuracy %.3f, want ≥ 0.9", a)
	}
	if a := accuracy(linear); a > 0.7 {
		t.Errorf("logistic regression: held-out accuracy %.3f on XOR, want near 0.5", a)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestTrainErrors(t *testing.T) {
	if _, err := Train([][]float64{{1}, {2}}, []bool{true, true}, TrainOptions{}); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: got %v, want ErrOneClass", err)
	}
	if _, err := Train([][]float64{{1}, {2, 3}}, []bool{true, false}, TrainOptions{}); err == nil {
		t.Error("ragged rows: no error")
	}
	if _, err := Train(nil, nil, TrainOptions{}); err == nil {
		t.Error("no rows: no error")
	}
	bad := &Model{Mean: []float64{0}, Std: []float64{0}, W2: []float64{1}}
	if err := bad.Validate(); err == nil {
		t.Error("zero scale: Validate gave no error")
	}
	if _, err := (&Model{Mean: []float64{0}, Std: []float64{1}, W2: []float64{1}}).Probability([]float64{1, 2}); err == nil {
		t.Error("wrong feature count: no error")
	}
}
