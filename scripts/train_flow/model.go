package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// config is the flow's shape: Glow's multi-scale architecture (Kingma &
// Dhariwal 2018) on [3,Size,Size] pictures. Each level squeezes the
// picture into four times the channels at half the side, runs Steps flow
// steps (actnorm, invertible 1x1 convolution, affine coupling) and, but
// for the last level, splits half of the channels off as that level's
// latent, whose conditional prior the other half and the prompt's
// condition give.
type config struct {
	// Channels and Size are the pictures' channel count and side.
	Channels, Size int64
	Steps          []int // flow steps per level
	// Hidden is the channel count of each level's coupling networks.
	Hidden []int64
	// CondMaps is the number of maps [k,S,S] that a linear layer makes
	// from the condition at each level and joins to every coupling
	// network's input there, so that a coupling can tell where the
	// prompt puts a shape.
	CondMaps int64
	// Condition is the length of the condition vector.
	Condition int64
	// PriorHidden, when > 0, adds to every prior a hidden layer (a
	// residual path whose last layer starts at zero): of this width in the
	// last level's prior on c, of the level's Hidden channels in a split
	// level's convolutional prior. A linear
	// prior on the one-hot condition can only add up the attributes'
	// effects, while a picture needs their conjunctions (this color at
	// that place).
	PriorHidden int64
}

// levels is the number of levels.
func (c config) levels() int { return len(c.Steps) }

// latentShapes are the [C,S,S] shapes of each level's latent, in the
// order they are concatenated into the flat latent.
func (c config) latentShapes() [][3]int64 {
	var out [][3]int64
	ch, side := c.Channels, c.Size
	for lv := range c.levels() {
		ch, side = ch*4, side/2
		if lv < c.levels()-1 {
			out = append(out, [3]int64{ch / 2, side, side})
			ch /= 2
		} else {
			out = append(out, [3]int64{ch, side, side})
		}
	}
	return out
}

// dims is D, the values of one picture (and of its latent).
func (c config) dims() int64 { return c.Channels * c.Size * c.Size }

// validate reports a shape the flow cannot take.
func (c config) validate() error {
	if len(c.Steps) == 0 || len(c.Hidden) != len(c.Steps) {
		return fmt.Errorf("flow config: %d levels of steps, %d hidden widths", len(c.Steps), len(c.Hidden))
	}
	if c.Size%(1<<len(c.Steps)) != 0 {
		return fmt.Errorf("flow config: side %d does not halve %d times", c.Size, len(c.Steps))
	}
	return nil
}

// flow builds the network's forward (x → ε, log-det) or inverse (ε → x)
// graph on a Builder. Both name their parameters the same, so one set of
// trained weights loads into either; the inverse also needs the inverse
// 1x1 convolution weights, computed on the host from the trained LU
// factors (invWeights).
type flow struct {
	cfg config
	l   *onnxexport.Layers
	// rng draws the LU factors' initial values.
	rng *rand.Rand
	// init, in the forward graph, makes every actnorm normalize its
	// input by the batch's statistics and output them (data-dependent
	// initialization): one run on a batch gives every actnorm's
	// initial bias and log-scale.
	init      bool
	initStats map[string]*onnxexport.Value
	// inv maps an invertible convolution's scope to its inverse weight
	// [C,C] (row-major), for the inverse graph.
	inv map[string][]float32
	// logdet accumulates the forward graph's per-example log-determinant
	// terms [B]; shared the terms that are the same for every example
	// (actnorm, 1x1 convolutions), a scalar.
	logdet, shared *onnxexport.Value
}

// addLogdet adds a per-example term [B] to the log-determinant.
func (f *flow) addLogdet(t *onnxexport.Value) {
	if f.logdet == nil {
		f.logdet = t
		return
	}
	f.logdet = f.l.Add(f.logdet, t)
}

// addShared adds a term that every example shares (a scalar).
func (f *flow) addShared(t *onnxexport.Value) {
	if f.shared == nil {
		f.shared = t
		return
	}
	f.shared = f.l.Add(f.shared, t)
}

// squeeze turns [B,C,H,W] into [B,4C,H/2,W/2] (each 2x2 block's values
// become channels); unsqueeze undoes it.
func squeeze(l *onnxexport.Layers, x *onnxexport.Value, c, side int64) *onnxexport.Value {
	h := side / 2
	x = l.Reshape(x, -1, c, h, 2, h, 2)
	x = l.Transpose(x, 0, 1, 3, 5, 2, 4)
	return l.Reshape(x, -1, 4*c, h, h)
}

func unsqueeze(l *onnxexport.Layers, x *onnxexport.Value, c, side int64) *onnxexport.Value {
	h := side / 2
	x = l.Reshape(x, -1, c, 2, 2, h, h)
	x = l.Transpose(x, 0, 1, 4, 2, 5, 3)
	return l.Reshape(x, -1, c, side, side)
}

// actnorm is y = (x + bias)·exp(logs) per channel; its log-determinant
// is H·W·Σ logs.
func (f *flow) actnorm(name string, x *onnxexport.Value, c, side int64, inverse bool) *onnxexport.Value {
	l := f.l
	defer l.Scope(name)()
	bias := l.Param("bias", onnxexport.NewFloat32([]int64{1, c, 1, 1}, make([]float32, c)))
	logs := l.Param("logs", onnxexport.NewFloat32([]int64{1, c, 1, 1}, make([]float32, c)))
	if inverse {
		return l.Sub(l.Mul(x, l.Exp(l.Neg(logs))), bias)
	}
	if f.init {
		mean := l.ReduceMean(x, true, 0, 2, 3)
		d := l.Sub(x, mean)
		std := l.Sqrt(l.Add(l.ReduceMean(l.Mul(d, d), true, 0, 2, 3), l.ScalarLike(d, 1e-6)))
		f.initStats[l.ScopeName()+".bias"] = l.Neg(mean)
		f.initStats[l.ScopeName()+".logs"] = l.Neg(l.Log(std))
		return l.Div(d, std)
	}
	f.addShared(l.Mul(l.ReduceSum(logs, false), l.ScalarLike(logs, float64(side*side))))
	return l.Mul(l.Add(x, bias), l.Exp(logs))
}

// invconv is the invertible 1x1 convolution in LU form (Glow, section
// 3.2): W = P·(L + I)·(U + diag(exp(logs))) with P a fixed permutation
// (the channels reversed), L strictly lower and U strictly upper
// triangular; its log-determinant is H·W·Σ logs, linear in the
// parameters instead of a C×C determinant. The inverse graph multiplies
// by W⁻¹ computed on the host (f.inv).
func (f *flow) invconv(name string, x *onnxexport.Value, c, side int64, inverse bool) *onnxexport.Value {
	l := f.l
	defer l.Scope(name)()
	lower := l.Param("lower", f.smallRandom(c))
	upper := l.Param("upper", f.smallRandom(c))
	logs := l.Param("logs", onnxexport.NewFloat32([]int64{c}, make([]float32, c)))
	if inverse {
		w, ok := f.inv[l.ScopeName()]
		if !ok || int64(len(w)) != c*c {
			l.Fail("invconv", fmt.Errorf("no inverse weight for %s", l.ScopeName()))
			return x
		}
		return l.Conv(x, l.ConstFloat32([]int64{c, c, 1, 1}, w), nil, onnxexport.ConvOptions{})
	}
	lowerMask, upperMask, eye, perm := luConstants(c)
	lw := l.Add(l.Mul(lower, l.ConstFloat32([]int64{c, c}, lowerMask)), l.ConstFloat32([]int64{c, c}, eye))
	diag := l.Mul(l.ConstFloat32([]int64{c, c}, eye), l.Unsqueeze(l.Exp(logs), 0))
	uw := l.Add(l.Mul(upper, l.ConstFloat32([]int64{c, c}, upperMask)), diag)
	w := l.MatMul(l.ConstFloat32([]int64{c, c}, perm), l.MatMul(lw, uw))
	if !f.init {
		f.addShared(l.Mul(l.ReduceSum(logs, false), l.ScalarLike(logs, float64(side*side))))
	}
	return l.Conv(x, l.Reshape(w, c, c, 1, 1), nil, onnxexport.ConvOptions{})
}

// smallRandom is the initial value of an LU factor: small random values,
// so that W starts as a permutation times a matrix near I.
func (f *flow) smallRandom(c int64) *onnxexport.Tensor {
	v := make([]float32, c*c)
	for i := range v {
		v[i] = float32(0.05 * f.rng.NormFloat64())
	}
	return onnxexport.NewFloat32([]int64{c, c}, v)
}

// luConstants are the masks and the permutation of a C×C LU-form
// weight: strictly lower, strictly upper, the identity and the reversal.
func luConstants(c int64) (lower, upper, eye, perm []float32) {
	lower, upper = make([]float32, c*c), make([]float32, c*c)
	eye, perm = make([]float32, c*c), make([]float32, c*c)
	for i := range c {
		for j := range c {
			switch {
			case j < i:
				lower[i*c+j] = 1
			case j > i:
				upper[i*c+j] = 1
			default:
				eye[i*c+j] = 1
			}
		}
		perm[i*c+(c-1-i)] = 1
	}
	return lower, upper, eye, perm
}

// luWeight is W = P·(L + I)·(U + diag(exp(logs))) on the host, in
// float64, from an invertible convolution's parameters (row-major C×C).
func luWeight(lower, upper, logs []float32, c int) []float64 {
	lw := make([]float64, c*c)
	uw := make([]float64, c*c)
	for i := range c {
		for j := range c {
			switch {
			case j < i:
				lw[i*c+j] = float64(lower[i*c+j])
			case j > i:
				uw[i*c+j] = float64(upper[i*c+j])
			default:
				lw[i*c+j] = 1
				uw[i*c+j] = math.Exp(float64(logs[i]))
			}
		}
	}
	w := make([]float64, c*c)
	for i := range c {
		for j := range c {
			var s float64
			for k := range c {
				s += lw[i*c+k] * uw[k*c+j]
			}
			w[(c-1-i)*c+j] = s // P reverses the rows
		}
	}
	return w
}

// invert returns the inverse of the C×C matrix a (Gauss-Jordan with
// partial pivoting), or an error when a is singular.
func invert(a []float64, c int) ([]float64, error) {
	m := make([]float64, c*2*c)
	for i := range c {
		copy(m[i*2*c:], a[i*c:(i+1)*c])
		m[i*2*c+c+i] = 1
	}
	for col := range c {
		p := col
		for r := col + 1; r < c; r++ {
			if math.Abs(m[r*2*c+col]) > math.Abs(m[p*2*c+col]) {
				p = r
			}
		}
		if math.Abs(m[p*2*c+col]) < 1e-12 {
			return nil, fmt.Errorf("singular matrix")
		}
		for k := range 2 * c {
			m[col*2*c+k], m[p*2*c+k] = m[p*2*c+k], m[col*2*c+k]
		}
		d := m[col*2*c+col]
		for k := range 2 * c {
			m[col*2*c+k] /= d
		}
		for r := range c {
			if r == col || m[r*2*c+col] == 0 {
				continue
			}
			f := m[r*2*c+col]
			for k := range 2 * c {
				m[r*2*c+k] -= f * m[col*2*c+k]
			}
		}
	}
	out := make([]float64, c*c)
	for i := range c {
		copy(out[i*c:], m[i*2*c+c:(i+1)*2*c])
	}
	return out, nil
}

// zeroConv is a convolution whose weight and bias start at zero, the
// last layer of every coupling and prior network, so that each starts
// as the identity (or the standard normal).
func (f *flow) zeroConv(name string, x *onnxexport.Value, in, out, kernel int64) *onnxexport.Value {
	l := f.l
	defer l.Scope(name)()
	w := l.Param("weight", onnxexport.NewFloat32([]int64{out, in, kernel, kernel}, make([]float32, out*in*kernel*kernel)))
	bias := l.Param("bias", onnxexport.NewFloat32([]int64{out}, make([]float32, out)))
	p := kernel / 2
	return l.Conv(x, w, bias, onnxexport.ConvOptions{Pads: []int64{p, p, p, p}})
}

// coupling is the conditional affine coupling: the first half of the
// channels x_a passes through, and with (shift, raw) = NN(x_a, maps of c,
// c) the second becomes y_b = (x_b + shift)·sigmoid(raw + 2) (Glow's
// scale, bounded so that training cannot blow it up); its
// log-determinant is Σ log sigmoid(raw + 2), per example.
func (f *flow) coupling(name string, x, cmap, c *onnxexport.Value, ch, hidden int64, inverse bool) *onnxexport.Value {
	l := f.l
	defer l.Scope(name)()
	half := ch / 2
	parts := l.Split(x, 1, half, ch-half)
	xa, xb := parts[0], parts[1]
	in := l.Concat(1, xa, cmap)
	h := l.Conv2d("conv1", in, hidden, 3, onnxexport.Conv2dOptions{Padding: 1})
	h = l.Relu(l.Add(h, l.Unsqueeze(l.Linear("cond", c, hidden, true), 2, 3)))
	h = l.Relu(l.Conv2d("conv2", h, hidden, 1, onnxexport.Conv2dOptions{}))
	out := f.zeroConv("conv_out", h, hidden, 2*(ch-half), 3)
	st := l.Split(out, 1, ch-half, ch-half)
	scale := l.Sigmoid(l.Add(st[1], l.ScalarLike(st[1], 2)))
	if inverse {
		return l.Concat(1, xa, l.Sub(l.Div(xb, scale), st[0]))
	}
	if !f.init {
		f.addLogdet(l.ReduceSum(l.Log(scale), false, 1, 2, 3))
	}
	return l.Concat(1, xa, l.Mul(l.Add(xb, st[0]), scale))
}

// splitHidden is the width of the hidden layer of the split prior at a
// level of the given side (0: none).
func (f *flow) splitHidden(side int64) int64 {
	if f.cfg.PriorHidden <= 0 {
		return 0
	}
	s := f.cfg.Size
	for lv := range f.cfg.levels() {
		if s /= 2; s == side {
			return f.cfg.Hidden[lv]
		}
	}
	return 0
}

// condMap is the level's maps [B,k,S,S] of the condition.
func (f *flow) condMap(c *onnxexport.Value, side int64) *onnxexport.Value {
	k := f.cfg.CondMaps
	return f.l.Reshape(f.l.Linear("cond_map", c, k*side*side, true), -1, k, side, side)
}

// prior is the conditional Gaussian prior (mean, log σ) [B,C,S,S] of a
// level's latent: from the kept half and the condition's maps by a
// convolution for a split level, from the condition alone by a linear
// layer for the last level. Both start at zero (the standard normal).
func (f *flow) prior(kept, cmap, c *onnxexport.Value, ch, side int64) (mean, logstd *onnxexport.Value) {
	l := f.l
	defer l.Scope("prior")()
	var out *onnxexport.Value
	if kept == nil {
		defer l.Scope("linear")()
		n := 2 * ch * side * side
		w := l.Param("weight", onnxexport.NewFloat32([]int64{n, f.cfg.Condition}, make([]float32, n*f.cfg.Condition)))
		bias := l.Param("bias", onnxexport.NewFloat32([]int64{n}, make([]float32, n)))
		flat := l.Add(l.MatMul(c, l.Transpose(w, 1, 0)), bias)
		if hid := f.cfg.PriorHidden; hid > 0 {
			h := l.Relu(l.Linear("mlp_in", c, hid, true))
			w2 := l.Param("mlp_out.weight", onnxexport.NewFloat32([]int64{n, hid}, make([]float32, n*hid)))
			flat = l.Add(flat, l.MatMul(h, l.Transpose(w2, 1, 0)))
		}
		out = l.Reshape(flat, -1, 2*ch, side, side)
	} else {
		in := l.Concat(1, kept, cmap)
		out = f.zeroConv("conv", in, ch+f.cfg.CondMaps, 2*ch, 3)
		if hid := f.splitHidden(side); hid > 0 {
			h := l.Relu(l.Conv2d("hidden", in, hid, 3, onnxexport.Conv2dOptions{Padding: 1}))
			out = l.Add(out, f.zeroConv("mlp_out", h, hid, 2*ch, 3))
		}
	}
	parts := l.Split(out, 1, ch, ch)
	return parts[0], parts[1]
}

// forward maps pictures x [B,3,S,S] (dequantized, in [-1, 1]) with
// conditions c [B,Condition] to the standardized latent ε [B,D] (each
// level's (z − mean)/σ, flattened and concatenated) and the
// log-determinant [B] of x → ε, so that
// log p(x | c) = Σ log N(ε; 0, 1) + logdet.
func (f *flow) forward(x, c *onnxexport.Value) (eps, logdet *onnxexport.Value) {
	l := f.l
	ch, side := f.cfg.Channels, f.cfg.Size
	var parts []*onnxexport.Value
	for lv := range f.cfg.levels() {
		done := l.Scope(fmt.Sprintf("level%d", lv))
		x = squeeze(l, x, ch, side)
		ch, side = ch*4, side/2
		cmap := f.condMap(c, side)
		for k := range f.cfg.Steps[lv] {
			sc := l.Scope(fmt.Sprintf("step%d", k))
			x = f.actnorm("actnorm", x, ch, side, false)
			x = f.invconv("invconv", x, ch, side, false)
			x = f.coupling("coupling", x, cmap, c, ch, f.cfg.Hidden[lv], false)
			sc()
		}
		z := x
		var kept *onnxexport.Value
		zc := ch
		if lv < f.cfg.levels()-1 {
			s := l.Split(x, 1, ch/2, ch/2)
			kept, z = s[0], s[1]
			zc = ch / 2
		}
		if !f.init {
			mean, logstd := f.prior(kept, cmap, c, zc, side)
			e := l.Mul(l.Sub(z, mean), l.Exp(l.Neg(logstd)))
			f.addLogdet(l.Neg(l.ReduceSum(logstd, false, 1, 2, 3)))
			parts = append(parts, l.Reshape(e, -1, zc*side*side))
		}
		x, ch = kept, zc
		done()
	}
	if f.init {
		return nil, nil
	}
	return l.Concat(1, parts...), l.Add(f.logdet, f.shared)
}

// inverse maps standardized latents ε [B,D] with conditions c to
// pictures [B,3,S,S]: the forward graph's steps undone in reverse order,
// each level's latent z = mean + σ·ε from its prior.
func (f *flow) inverse(eps, c *onnxexport.Value) *onnxexport.Value {
	l := f.l
	shapes := f.cfg.latentShapes()
	sizes := make([]int64, len(shapes))
	for i, s := range shapes {
		sizes[i] = s[0] * s[1] * s[2]
	}
	parts := l.Split(eps, 1, sizes...)
	var x *onnxexport.Value
	for lv := f.cfg.levels() - 1; lv >= 0; lv-- {
		done := l.Scope(fmt.Sprintf("level%d", lv))
		zc, side := shapes[lv][0], shapes[lv][1]
		cmap := f.condMap(c, side)
		e := l.Reshape(parts[lv], -1, zc, side, side)
		mean, logstd := f.prior(x, cmap, c, zc, side)
		z := l.Add(mean, l.Mul(l.Exp(logstd), e))
		ch := zc
		if x == nil {
			x = z
		} else {
			x = l.Concat(1, x, z)
			ch = 2 * zc
		}
		for k := f.cfg.Steps[lv] - 1; k >= 0; k-- {
			sc := l.Scope(fmt.Sprintf("step%d", k))
			x = f.coupling("coupling", x, cmap, c, ch, f.cfg.Hidden[lv], true)
			x = f.invconv("invconv", x, ch, side, true)
			x = f.actnorm("actnorm", x, ch, side, true)
			sc()
		}
		x = unsqueeze(l, x, ch/4, side*2)
		done()
	}
	return x
}
