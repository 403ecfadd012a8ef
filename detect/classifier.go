package detect

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Model scores standardized features: z = (x − mean)/std, then, with a
// hidden layer, h = tanh(W1·z + b1) and logit = w2·h + b2; without one
// (a logistic regression), logit = w2·z + b2. The probability that a
// picture is generated is σ(logit).
type Model struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
	// W1 is hidden x features (empty for a logistic regression), B1 one
	// bias per hidden unit.
	W1 [][]float64 `json:"w1,omitempty"`
	B1 []float64   `json:"b1,omitempty"`
	W2 []float64   `json:"w2"`
	B2 float64     `json:"b2"`
}

// Features returns the length of the vectors m takes.
func (m *Model) Features() int { return len(m.Mean) }

// Validate checks that m's shapes agree and its values are finite.
func (m *Model) Validate() error {
	n := len(m.Mean)
	if n == 0 || len(m.Std) != n {
		return fmt.Errorf("detect: model: %d means, %d scales", n, len(m.Std))
	}
	width := n
	if len(m.W1) > 0 {
		width = len(m.W1)
		if len(m.B1) != width {
			return fmt.Errorf("detect: model: %d hidden units, %d biases", width, len(m.B1))
		}
		for j, row := range m.W1 {
			if len(row) != n {
				return fmt.Errorf("detect: model: hidden unit %d has %d weights, want %d", j, len(row), n)
			}
			if !allFinite(row) {
				return fmt.Errorf("detect: model: hidden unit %d has a non-finite weight", j)
			}
		}
	}
	if len(m.W2) != width {
		return fmt.Errorf("detect: model: %d output weights, want %d", len(m.W2), width)
	}
	if !allFinite(m.Mean) || !allFinite(m.Std) || !allFinite(m.B1) || !allFinite(m.W2) || !allFinite([]float64{m.B2}) {
		return errors.New("detect: model: a non-finite value")
	}
	for i, s := range m.Std {
		if s <= 0 {
			return fmt.Errorf("detect: model: feature %d has scale %g", i, s)
		}
	}
	return nil
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// Probability returns the probability m gives that x's picture is
// generated.
func (m *Model) Probability(x []float64) (float64, error) {
	if len(x) != len(m.Mean) {
		return 0, fmt.Errorf("detect: model takes %d features, got %d", len(m.Mean), len(x))
	}
	z := make([]float64, len(x))
	for i, v := range x {
		z[i] = (v - m.Mean[i]) / m.Std[i]
	}
	logit, _ := m.forward(z, nil)
	if math.IsNaN(logit) {
		return 0, errors.New("detect: model gave a NaN logit (non-finite features?)")
	}
	return sigmoid(logit), nil
}

// forward returns the logit of standardized z, filling h (when not nil)
// with the hidden activations.
func (m *Model) forward(z, h []float64) (float64, []float64) {
	in := z
	if len(m.W1) > 0 {
		if h == nil {
			h = make([]float64, len(m.W1))
		}
		for j, row := range m.W1 {
			a := m.B1[j]
			for i, w := range row {
				a += w * z[i]
			}
			h[j] = math.Tanh(a)
		}
		in = h
	}
	logit := m.B2
	for i, w := range m.W2 {
		logit += w * in[i]
	}
	return logit, h
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// TrainOptions configure Train. Zero values mean the defaults noted.
type TrainOptions struct {
	// Hidden is the number of tanh units (0: a logistic regression).
	Hidden int
	// L2 is the penalty on the weights (not biases); default 1e-3.
	L2 float64
	// Steps of full-batch Adam; default 2000. LearningRate default 0.01.
	Steps        int
	LearningRate float64
	// Seed draws the hidden layer's initial weights.
	Seed uint64
}

// ErrOneClass is returned by Train when every example has the same label.
var ErrOneClass = errors.New("detect: training needs examples of both classes")

// Train fits a Model to the rows of x (generated[i] says whether row i is
// a generated picture) by full-batch Adam on the L2-penalized mean
// log-loss, after standardizing each feature. The classes are weighted to
// count equally.
func Train(x [][]float64, generated []bool, o TrainOptions) (*Model, error) {
	if len(x) == 0 || len(x) != len(generated) {
		return nil, fmt.Errorf("detect: train: %d rows, %d labels", len(x), len(generated))
	}
	o = o.withDefaults()
	n := len(x[0])
	npos := 0
	for i, row := range x {
		if len(row) != n {
			return nil, fmt.Errorf("detect: train: row %d has %d features, row 0 has %d", i, len(row), n)
		}
		if generated[i] {
			npos++
		}
	}
	if npos == 0 || npos == len(x) {
		return nil, ErrOneClass
	}
	m := &Model{Mean: make([]float64, n), Std: make([]float64, n)}
	standardize(x, m)
	z := make([][]float64, len(x))
	for i, row := range x {
		z[i] = make([]float64, n)
		for k, v := range row {
			z[i][k] = (v - m.Mean[k]) / m.Std[k]
		}
	}
	width := n
	if o.Hidden > 0 {
		r := rand.New(rand.NewPCG(o.Seed, 0x6465746563740a))
		m.W1, m.B1 = make([][]float64, o.Hidden), make([]float64, o.Hidden)
		for j := range m.W1 {
			m.W1[j] = make([]float64, n)
			for i := range m.W1[j] {
				m.W1[j][i] = r.NormFloat64() / math.Sqrt(float64(n))
			}
		}
		width = o.Hidden
	}
	m.W2 = make([]float64, width)
	weight := [2]float64{0.5 / float64(len(x)-npos), 0.5 / float64(npos)}
	b2 := []float64{0} // m.B2 as a slice Adam can update
	params := append(m.params(), b2)
	grads := make([][]float64, len(params))
	adam := make([]adamState, len(params))
	for k, p := range params {
		grads[k] = make([]float64, len(p))
		adam[k] = adamState{m: make([]float64, len(p)), v: make([]float64, len(p))}
	}
	h := make([]float64, len(m.W1))
	for step := 1; step <= o.Steps; step++ {
		for _, g := range grads {
			clear(g)
		}
		gW1, gB1, gW2 := m.split(grads)
		gB2 := grads[len(grads)-1]
		for i, zi := range z {
			logit, _ := m.forward(zi, h)
			y, c := 0.0, weight[0]
			if generated[i] {
				y, c = 1, weight[1]
			}
			d := c * (sigmoid(logit) - y) // dLoss/dlogit
			gB2[0] += d
			if len(m.W1) == 0 {
				for k, v := range zi {
					gW2[k] += d * v
				}
				continue
			}
			for j, hj := range h {
				gW2[j] += d * hj
				dh := d * m.W2[j] * (1 - hj*hj)
				gB1[j] += dh
				for k, v := range zi {
					gW1[j][k] += dh * v
				}
			}
		}
		for k, w := range m.W2 {
			gW2[k] += o.L2 * w
		}
		for j, row := range m.W1 {
			for k, w := range row {
				gW1[j][k] += o.L2 * w
			}
		}
		for k, p := range params {
			adam[k].step(p, grads[k], o.LearningRate, step)
		}
		m.B2 = b2[0]
	}
	return m, m.Validate()
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.L2 == 0 {
		o.L2 = 1e-3
	}
	if o.Steps == 0 {
		o.Steps = 2000
	}
	if o.LearningRate == 0 {
		o.LearningRate = 0.01
	}
	return o
}

// params lists m's weight slices: W1's rows, B1, W2.
func (m *Model) params() [][]float64 {
	p := append([][]float64(nil), m.W1...)
	if m.B1 != nil {
		p = append(p, m.B1)
	}
	return append(p, m.W2)
}

// split maps gradient slices laid out as params onto W1, B1 and W2.
func (m *Model) split(g [][]float64) (w1 [][]float64, b1, w2 []float64) {
	k := len(m.W1)
	w1 = g[:k]
	if m.B1 != nil {
		b1 = g[k]
		k++
	}
	return w1, b1, g[k]
}

type adamState struct{ m, v []float64 }

// step applies one Adam update (β 0.9, 0.999) to p in place.
func (a *adamState) step(p, g []float64, lr float64, t int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1, c2 := 1-math.Pow(b1, float64(t)), 1-math.Pow(b2, float64(t))
	for i := range p {
		a.m[i] = b1*a.m[i] + (1-b1)*g[i]
		a.v[i] = b2*a.v[i] + (1-b2)*g[i]*g[i]
		p[i] -= lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps)
	}
}

// standardize sets m's Mean and Std to the columns' statistics (a
// constant column gets scale 1).
func standardize(x [][]float64, m *Model) {
	for _, row := range x {
		for k, v := range row {
			m.Mean[k] += v
		}
	}
	for k := range m.Mean {
		m.Mean[k] /= float64(len(x))
	}
	for _, row := range x {
		for k, v := range row {
			m.Std[k] += (v - m.Mean[k]) * (v - m.Mean[k])
		}
	}
	for k := range m.Std {
		m.Std[k] = math.Sqrt(m.Std[k] / float64(len(x)))
		if m.Std[k] < 1e-12 {
			m.Std[k] = 1
		}
	}
}
