package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// tinyConfig is a two-level flow on [2,4,4] inputs (D = 32): squeeze,
// split and the multi-scale priors all take part.
var tinyConfig = config{Channels: 2, Size: 4, Steps: []int{2, 2}, Hidden: []int64{8, 8}, CondMaps: 2, Condition: 5, PriorHidden: 6}

// randomWeights gives every parameter of b a random value, so that no
// zero-initialized layer hides a wrong log-determinant: actnorm and LU
// log-scales, couplings and priors all act. (At a scale of 0.3 the
// random flow is so ill-conditioned that float32 round-off alone makes
// the round trip miss by 2e-4; trained flows are far tamer.)
func randomWeights(b *onnxexport.Builder, seed uint64) map[string]*onnxexport.Tensor {
	const weightScale = 0.1
	rng := rand.New(rand.NewPCG(seed, 3))
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		v := make([]float32, p.Tensor.NumElements())
		for i := range v {
			v[i] = float32(weightScale * rng.NormFloat64())
		}
		w[p.Name] = onnxexport.NewFloat32(p.Tensor.Shape, v)
	}
	return w
}

// session builds b with weights w (float16 initializers when half) and
// opens it.
func session(t *testing.T, b *onnxexport.Builder, w map[string]*onnxexport.Tensor, half bool) *ort.Session {
	t.Helper()
	if err := b.LoadParams(w); err != nil {
		t.Fatal(err)
	}
	var opts []onnxexport.BuildOption
	if half {
		opts = append(opts, onnxexport.WithFloat16Weights())
	}
	m, err := b.Build(opts...)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.OpenBytes(b.Name(), raw, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// encode runs the encoder on n inputs x with conditions c.
func encode(t *testing.T, s *ort.Session, cfg config, x, c []float32, n int) (eps, logdet []float32) {
	t.Helper()
	out := map[string]*ort.Tensor{outLatent: {}, outLogdet: {}}
	in := map[string]ort.Tensor{
		inSample:    {Shape: []int64{int64(n), cfg.Channels, cfg.Size, cfg.Size}, F32: x},
		inCondition: {Shape: []int64{int64(n), cfg.Condition}, F32: c},
	}
	if err := s.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out[outLatent].F32, out[outLogdet].F32
}

func randomInputs(cfg config, n int, seed uint64) (x, c []float32) {
	rng := rand.New(rand.NewPCG(seed, 5))
	x = make([]float32, n*int(cfg.dims()))
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	c = make([]float32, n*int(cfg.Condition))
	for i := range n {
		c[i*int(cfg.Condition)+rng.IntN(int(cfg.Condition))] = 1
	}
	return x, c
}

// TestLogdetMatchesJacobian checks the encoder's log-determinant
// against log |det J| of the brute-force Jacobian of x → ε, by central
// differences column by column, on a tiny flow with random weights.
func TestLogdetMatchesJacobian(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	b := encoderGraph(cfg)
	s := session(t, b, randomWeights(b, 1), false)
	d := int(cfg.dims())
	x0, c0 := randomInputs(cfg, 1, 2)
	// Row 0 is x0; rows 1+2i and 2+2i are x0 ± h·e_i.
	const h = 2e-3
	n := 2*d + 1
	x := make([]float32, n*d)
	c := make([]float32, n*int(cfg.Condition))
	for r := range n {
		copy(x[r*d:], x0)
		copy(c[r*int(cfg.Condition):], c0)
	}
	for i := range d {
		x[(1+2*i)*d+i] += h
		x[(2+2*i)*d+i] -= h
	}
	eps, logdet := encode(t, s, cfg, x, c, n)
	jac := make([]float64, d*d) // jac[j*d+i] = ∂ε_j/∂x_i
	for i := range d {
		for j := range d {
			plus, minus := float64(eps[(1+2*i)*d+j]), float64(eps[(2+2*i)*d+j])
			// The perturbed inputs are float32: divide by the step taken.
			step := float64(x[(1+2*i)*d+i]) - float64(x[(2+2*i)*d+i])
			jac[j*d+i] = (plus - minus) / step
		}
	}
	want := logAbsDet(jac, d)
	got := float64(logdet[0])
	if math.Abs(want) < 1 {
		t.Fatalf("log |det J| = %g: the random weights leave the test too little to check", want)
	}
	if rel := math.Abs(got-want) / math.Abs(want); rel > 1e-3 {
		t.Errorf("logdet %g, brute-force Jacobian %g (relative error %.2g > 1e-3)", got, want, rel)
	}
	t.Logf("logdet %.6f, brute-force %.6f", got, want)
}

// logAbsDet is log |det a| of the d×d matrix a (LU with partial
// pivoting), in float64.
func logAbsDet(a []float64, d int) float64 {
	m := append([]float64(nil), a...)
	var sum float64
	for col := range d {
		p := col
		for r := col + 1; r < d; r++ {
			if math.Abs(m[r*d+col]) > math.Abs(m[p*d+col]) {
				p = r
			}
		}
		for k := range d {
			m[col*d+k], m[p*d+k] = m[p*d+k], m[col*d+k]
		}
		piv := m[col*d+col]
		sum += math.Log(math.Abs(piv))
		for r := col + 1; r < d; r++ {
			f := m[r*d+col] / piv
			for k := col; k < d; k++ {
				m[r*d+k] -= f * m[col*d+k]
			}
		}
	}
	return sum
}

// TestDecoderInvertsEncoder checks that the exported decoder undoes the
// exported encoder within 1e-4, with float32 and with float16
// initializers (the inverse 1x1 convolutions computed on the host from
// the rounded LU factors, as export does).
func TestDecoderInvertsEncoder(t *testing.T) {
	testort.Init(t)
	for _, half := range []bool{false, true} {
		cfg := tinyConfig
		enc := encoderGraph(cfg)
		w := randomWeights(enc, 4)
		es := session(t, enc, w, half)
		inv, err := invWeights(cfg, w, half)
		if err != nil {
			t.Fatal(err)
		}
		ds := session(t, decoderGraph(cfg, inv), w, half)
		const n = 3
		x, c := randomInputs(cfg, n, 6)
		eps, _ := encode(t, es, cfg, x, c, n)
		out := map[string]*ort.Tensor{outSample: {}}
		in := map[string]ort.Tensor{
			inLatent:    {Shape: []int64{n, cfg.dims()}, F32: eps},
			inCondition: {Shape: []int64{n, cfg.Condition}, F32: c},
		}
		if err := ds.Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i, v := range out[outSample].F32 {
			worst = max(worst, math.Abs(float64(v)-float64(x[i])))
		}
		if worst > 1e-4 {
			t.Errorf("half %v: max |decode(encode(x)) − x| = %g, want < 1e-4", half, worst)
		}
		t.Logf("half %v: max round-trip error %.3g", half, worst)
	}
}

// TestTrainLossIsNLL checks that the training loss is the negative
// log-likelihood per dimension that the exported encoder's latent and
// log-determinant give: −mean(Σ log N(ε; 0, 1) + logdet)/D.
func TestTrainLossIsNLL(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	const n = 2
	b, loss := trainLoss(cfg, 1, n)
	b.Output("loss", b.Reshape(loss, 1))
	w := randomWeights(b, 7)
	ls := session(t, b, w, false)
	x, c := randomInputs(cfg, n, 8)
	out := map[string]*ort.Tensor{"loss": {}}
	in := map[string]ort.Tensor{
		"image":     {Shape: []int64{n, cfg.Channels, cfg.Size, cfg.Size}, F32: x},
		"condition": {Shape: []int64{n, cfg.Condition}, F32: c},
	}
	if err := ls.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	eps, logdet := encode(t, session(t, encoderGraph(cfg), w, false), cfg, x, c, n)
	var want float64
	d := int(cfg.dims())
	for i := range n {
		lp := float64(logdet[i])
		for _, e := range eps[i*d : (i+1)*d] {
			lp += -0.5*float64(e)*float64(e) - 0.5*math.Log(2*math.Pi)
		}
		want -= lp / float64(n*d)
	}
	if got := float64(out["loss"].F32[0]); math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("loss %g, want %g", got, want)
	}
}

// offsetPictures is a dataset of random pictures whose channels have
// different means and spreads.
type offsetPictures struct{ cfg config }

func (d offsetPictures) Len() int { return 64 }

func (d offsetPictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	plane := int(d.cfg.Size * d.cfg.Size)
	for k := range dst[0].F32 {
		ch := float64(k / plane)
		dst[0].F32[k] = float32(0.3*ch - 0.2 + (0.5+ch)*rng.NormFloat64())
	}
	clear(dst[1].F32)
	dst[1].F32[i%len(dst[1].F32)] = 1
	return nil
}

// TestActnormDataInit checks the data-dependent initialization: the
// first actnorm's bias and log-scale are minus the mean and minus the log
// standard deviation of each squeezed channel over the batch (computed
// here on the host), and the later actnorms get values too.
func TestActnormDataInit(t *testing.T) {
	testort.Init(t)
	cfg := tinyConfig
	b, _ := trainLoss(cfg, 1, 4)
	data := offsetPictures{cfg}
	const batch = 64
	if err := initActnorm(context.Background(), cfg, b, data, batch, 9, 1); err != nil {
		t.Fatal(err)
	}
	params := map[string][]float32{}
	for _, p := range b.Params() {
		params[p.Name] = p.Tensor.Float32
	}
	// The same examples on the host: squeezed channel c·4 + dy·2 + dx
	// holds the values of channel c at rows ≡ dy and columns ≡ dx (mod 2).
	rng := newRand(9)
	d, s := int(cfg.dims()), int(cfg.Size)
	x := make([]float32, batch*d)
	for i := range batch {
		slots := []onnxexport.ExampleSlot{{F32: x[i*d : (i+1)*d]}, {F32: make([]float32, cfg.Condition)}}
		if err := data.Example(i, rng, slots); err != nil {
			t.Fatal(err)
		}
	}
	bias, logs := params["level0.step0.actnorm.bias"], params["level0.step0.actnorm.logs"]
	if len(bias) != int(4*cfg.Channels) || len(logs) != len(bias) {
		t.Fatalf("first actnorm has %d biases and %d log-scales, want %d", len(bias), len(logs), 4*cfg.Channels)
	}
	for c := range int(cfg.Channels) {
		for dy := range 2 {
			for dx := range 2 {
				var sum, sq float64
				n := 0
				for i := range batch {
					for y := dy; y < s; y += 2 {
						for xx := dx; xx < s; xx += 2 {
							v := float64(x[i*d+(c*s+y)*s+xx])
							sum += v
							sq += v * v
							n++
						}
					}
				}
				mean := sum / float64(n)
				std := math.Sqrt(sq/float64(n) - mean*mean + 1e-6)
				k := c*4 + dy*2 + dx
				if math.Abs(float64(bias[k])+mean) > 1e-4 || math.Abs(float64(logs[k])+math.Log(std)) > 1e-4 {
					t.Errorf("squeezed channel %d: bias %v, log-scale %v; want %v, %v", k, bias[k], logs[k], -mean, -math.Log(std))
				}
			}
		}
	}
	for _, name := range []string{"level0.step1.actnorm.logs", "level1.step1.actnorm.logs"} {
		nonzero := false
		for _, v := range params[name] {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s holds NaN", name)
			}
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Errorf("%s was left at zero", name)
		}
	}
}
