package onnxexport_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// TestStopGradient checks that no gradient flows back through
// StopGradient while its value is x's: d/dx of each loss at x = (1, -2, 3).
func TestStopGradient(t *testing.T) {
	tests := []struct {
		name string
		loss func(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value
		want []float32
	}{
		{"x·x", func(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value { return b.Mul(x, x) },
			[]float32{2, -4, 6}},
		{"x·sg(x)", func(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value { return b.Mul(x, b.StopGradient(x)) },
			[]float32{1, -2, 3}},
		{"sg(x·x)", func(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value { return b.StopGradient(b.Mul(x, x)) },
			[]float32{0, 0, 0}},
		// The straight-through estimator: the value is 5·x, the gradient 1.
		{"x + sg(5x - x)", func(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
			return b.Add(x, b.StopGradient(b.Sub(b.Mul(x, b.ScalarLike(x, 5)), x)))
		}, []float32{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := onnxexport.NewBuilder("stop")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(3))
			y := tc.loss(b, x)
			grads, err := b.Gradients(b.ReduceSum(y, false), []*onnxexport.Value{x})
			if err != nil {
				t.Fatal(err)
			}
			b.Output("y", y)
			b.Output("dx", grads[0])
			out := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{3}, F32: []float32{1, -2, 3}}}, "dx")
			assertClose(t, out["dx"].F32, tc.want, 1e-6)
		})
	}
}

func TestArgMin(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
		want []int64
	}{
		{"distinct", []float32{3, 1, 2, 0.5, 4, 9}, []int64{1, 0}},
		{"ties pick the first", []float32{2, 1, 1, 7, 7, 7}, []int64{1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := onnxexport.NewBuilder("argmin")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
			idx := b.ArgMin(x, 1, false)
			if idx.DType() != onnxexport.Int64 || !slices.Equal(idx.Shape().Sizes(), []int64{2}) {
				t.Fatalf("got %v %v, want int64 [2]", idx.DType(), idx.Shape())
			}
			b.Output("i", idx)
			out := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{2, 3}, F32: tc.x}}, "i")
			if !slices.Equal(out["i"].I64, tc.want) {
				t.Errorf("got %v, want %v", out["i"].I64, tc.want)
			}
		})
	}
}

// sameRow gives every example the same row x.
type sameRow struct {
	x []float32
	n int
}

func (d sameRow) Len() int { return d.n }
func (d sameRow) Example(_ int, _ *rand.Rand, dst []onnxexport.ExampleSlot) error {
	copy(dst[0].F32, d.x)
	return nil
}

// hostGraph is loss = mean((w·x - c)²) with c a host input and the
// prediction w·x and the index of its smallest entry as auxiliary outputs.
func hostGraph(t *testing.T, n, k int64, w0 []float32) *onnxexport.TrainGraph {
	t.Helper()
	b := onnxexport.NewBuilder("host")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(n), onnxexport.D(k))
	c := b.Input("c", onnxexport.Float32, onnxexport.D(k))
	w := b.Param("w", onnxexport.NewFloat32([]int64{k}, append([]float32{}, w0...)))
	pred := b.Mul(x, w)
	b.Output("pred", pred)
	b.Output("smallest", b.ArgMin(pred, 1, false))
	g, err := onnxexport.NewTrainGraph(b, b.MSELoss(pred, c), onnxexport.AdamWConfig{}, c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTrainerHostAndAux runs steps of hostGraph, setting the host input
// between them, and checks the loss against the host value and the
// auxiliary outputs against the weights the step started from.
func TestTrainerHostAndAux(t *testing.T) {
	testort.Init(t)
	const n, k = 4, 3
	w0 := []float32{0.5, -1, 2}
	g := hostGraph(t, n, k, w0)
	names := func(vs []onnxexport.ValueInfo) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Name)
		}
		return out
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"batch", names(g.Batch), []string{"x"}}, {"host", names(g.Host), []string{"c"}}, {"aux", names(g.Aux), []string{"pred", "smallest"}}} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s inputs/outputs: got %v, want %v", c.what, c.got, c.want)
		}
	}
	x := []float32{1, 2, -1}
	tr, err := onnxexport.NewTrainer(g, sameRow{x: x, n: n}, onnxexport.TrainerOptions{Schedule: onnxexport.LRSchedule{Peak: 0.1, Warmup: 0, Total: 10}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Host values by step; nil leaves the last one (zero at first).
	hosts := [][]float32{nil, {1, 2, 3}, nil, {-4, 0, 9}}
	c := make([]float32, k)
	for i, host := range hosts {
		if host != nil {
			if err := tr.SetHost("c", ort.Tensor{Shape: []int64{k}, F32: host}); err != nil {
				t.Fatal(err)
			}
			copy(c, host)
		}
		w := tr.Weights(false)["w"].Float32
		var want float64
		pred := make([]float32, k)
		for j := range k {
			pred[j] = w[j] * x[j]
			d := float64(pred[j]) - float64(c[j])
			want += d * d / k
		}
		info, err := tr.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !close64(info.Loss, want, 1e-5) {
			t.Errorf("step %d: got loss %v, want %v", i+1, info.Loss, want)
		}
		got, err := tr.Aux("pred")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape, []int64{n, k}) {
			t.Fatalf("step %d: pred shape %v, want [%d %d]", i+1, got.Shape, n, k)
		}
		for r := range n {
			assertClose(t, got.F32[r*k:(r+1)*k], pred, 1e-6)
		}
		idx, err := tr.Aux("smallest")
		if err != nil {
			t.Fatal(err)
		}
		smallest := int64(slices.Index(pred, slices.Min(pred)))
		if i == 0 && smallest != 1 {
			t.Fatalf("w·x = %v: the first step should see a tie between entries 1 and 2", pred)
		}
		if want := slices.Repeat([]int64{smallest}, n); !slices.Equal(idx.I64, want) {
			t.Errorf("step %d: smallest %v, want %v", i+1, idx.I64, want)
		}
	}
}

func TestTrainerHostErrors(t *testing.T) {
	testort.Init(t)
	g := hostGraph(t, 2, 3, []float32{1, 1, 1})
	tr, err := onnxexport.NewTrainer(g, sameRow{x: []float32{1, 2, 3}, n: 2}, onnxexport.TrainerOptions{Schedule: onnxexport.LRSchedule{Peak: 0.1, Total: 10}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"unknown host input", func() error { return tr.SetHost("x", ort.Tensor{F32: []float32{1, 2, 3}}) }, onnxexport.ErrArgument},
		{"too few values", func() error { return tr.SetHost("c", ort.Tensor{F32: []float32{1, 2}}) }, onnxexport.ErrShape},
		{"int64 for a float input", func() error { return tr.SetHost("c", ort.Tensor{I64: []int64{1, 2, 3}}) }, onnxexport.ErrShape},
		{"other shape", func() error { return tr.SetHost("c", ort.Tensor{Shape: []int64{3, 1}, F32: []float32{1, 2, 3}}) }, onnxexport.ErrShape},
		{"unknown aux output", func() error { _, err := tr.Aux("loss"); return err }, onnxexport.ErrArgument},
		{"host value not an input", func() error {
			b := onnxexport.NewBuilder("p")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
			y := b.Mul(x, b.Param("w", onnxexport.NewFloat32([]int64{3}, []float32{1, 2, 3})))
			_, err := onnxexport.NewTrainGraph(b, b.ReduceMean(y, false), onnxexport.AdamWConfig{}, y)
			return err
		}, onnxexport.ErrArgument},
		{"host input of dynamic shape", func() error {
			b := onnxexport.NewBuilder("p")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
			c := b.Input("c", onnxexport.Float32, onnxexport.Sym("n"))
			y := b.Mul(x, b.Param("w", onnxexport.NewFloat32([]int64{3}, []float32{1, 2, 3})))
			_, err := onnxexport.NewTrainGraph(b, b.Add(b.ReduceMean(y, false), b.ReduceMean(c, false)), onnxexport.AdamWConfig{}, c)
			return err
		}, onnxexport.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTrainerProgressResumed runs a trainer in two parts, as a resumed
// training does: the second bar counts only its own steps, names the
// absolute step, and reports a plausible rate (it once counted the steps
// done before as done in no time: hundreds of millions of steps/s).
func TestTrainerProgressResumed(t *testing.T) {
	testort.Init(t)
	g := hostGraph(t, 2, 3, []float32{1, 1, 1})
	var out strings.Builder
	tr, err := onnxexport.NewTrainer(g, sameRow{x: []float32{1, 2, 3}, n: 2}, onnxexport.TrainerOptions{
		Schedule: onnxexport.LRSchedule{Peak: 0.01, Total: 100}, Threads: 1, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(context.Background(), 40); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := tr.Run(context.Background(), 45); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "step 45/45") || !strings.Contains(got, "(5/5,") {
		t.Errorf("resumed bar should count 5 of 5 steps and name step 45/45:\n%q", got)
	}
	for _, m := range regexp.MustCompile(`([0-9.]+) steps/s`).FindAllStringSubmatch(got, -1) {
		if r, _ := strconv.ParseFloat(m[1], 64); r > 1e6 {
			t.Errorf("rate %s steps/s: the steps before the resume were counted", m[1])
		}
	}
}

// TestTrainGraphFrozenParams checks a parameter given as a host value:
// it becomes a host input under its own name, is not trained, and each
// step reads the value the host last set (the other network of a GAN).
func TestTrainGraphFrozenParams(t *testing.T) {
	testort.Init(t)
	b := onnxexport.NewBuilder("frozen")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(4), onnxexport.D(1))
	y := b.Input("y", onnxexport.Float32, onnxexport.D(4), onnxexport.D(1))
	a := b.Param("a", onnxexport.NewFloat32([]int64{1}, []float32{0.5}))
	c := b.Param("c", onnxexport.NewFloat32([]int64{1}, []float32{0}))
	d := b.Sub(b.Add(b.Mul(x, a), c), y)
	loss := b.ReduceMean(b.Mul(d, d), false)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{NoWeightDecay: true}, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Params) != 1 || g.Params[0].Name != "a" {
		t.Fatalf("trained parameters %v, want [a]", g.Params)
	}
	if len(g.Host) != 1 || g.Host[0].Name != "c" || !slices.Equal(g.Host[0].Shape.Sizes(), []int64{1}) {
		t.Fatalf("host inputs %v, want c [1]", g.Host)
	}
	xs, ys := []float32{1, 2, 3, 4}, []float32{0, 1, 0, 1}
	data := fixedData{}
	for i := range xs {
		data.x = append(data.x, []float32{xs[i]})
		data.y = append(data.y, []float32{ys[i]})
	}
	tr, err := onnxexport.NewTrainer(g, data, onnxexport.TrainerOptions{Schedule: onnxexport.LRSchedule{Peak: 0.1, Min: 0.1, Total: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, cv := range []float32{2, -1} {
		w := tr.Weights(false)
		if len(w) != 1 {
			t.Fatalf("weights %v, want a alone", w)
		}
		av := w["a"].Float32[0]
		if err := tr.SetHost("c", ort.Tensor{F32: []float32{cv}}); err != nil {
			t.Fatal(err)
		}
		info, err := tr.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		for i := range xs {
			r := float64(av*xs[i] + cv - ys[i])
			want += r * r / float64(len(xs))
		}
		if math.Abs(info.Loss-want) > 1e-4*(1+want) {
			t.Errorf("c = %v: loss %v, want %v (the host's c, not the initializer)", cv, info.Loss, want)
		}
		if tr.Weights(false)["a"].Float32[0] == av {
			t.Errorf("c = %v: a did not move", cv)
		}
	}
}
