package onnxexport

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

// gradCase is one finite-difference check: build makes y from the inputs,
// the check differentiates sum(y · r) for a fixed random r and compares
// with central differences of the same graph run by ONNX Runtime.
type gradCase struct {
	name   string
	shapes [][]int64
	build  func(b *Builder, x []*Value) *Value
	// float32 runs the check in float32 for ops whose ONNX Runtime CPU
	// kernels exist only in float32 (looser step and tolerance).
	float32 bool
	// positive draws inputs in [0.5, 1.5] (Log, Sqrt, Pow).
	positive bool
}

func gradCases() []gradCase {
	x23 := [][]int64{{2, 3}, {2, 3}}
	bcast := [][]int64{{2, 3, 4}, {3, 1}}
	return []gradCase{
		{name: "Add broadcast", shapes: bcast, build: func(b *Builder, x []*Value) *Value { return b.Add(x[0], x[1]) }},
		{name: "Sub broadcast", shapes: [][]int64{{3, 1}, {2, 3, 4}}, build: func(b *Builder, x []*Value) *Value { return b.Sub(x[0], x[1]) }},
		{name: "Mul broadcast", shapes: bcast, build: func(b *Builder, x []*Value) *Value { return b.Mul(x[0], x[1]) }},
		{name: "Div", shapes: x23, positive: true, build: func(b *Builder, x []*Value) *Value { return b.Div(x[0], x[1]) }},
		{name: "Pow", shapes: x23, positive: true, build: func(b *Builder, x []*Value) *Value { return b.Pow(x[0], x[1]) }},
		{name: "Max", shapes: x23, build: func(b *Builder, x []*Value) *Value { return b.Max(x[0], x[1]) }},
		{name: "Min", shapes: x23, build: func(b *Builder, x []*Value) *Value { return b.Min(x[0], x[1]) }},
		{name: "Neg", shapes: [][]int64{{5}}, build: func(b *Builder, x []*Value) *Value { return b.Neg(x[0]) }},
		{name: "Abs", shapes: [][]int64{{5}}, build: func(b *Builder, x []*Value) *Value { return b.Abs(x[0]) }},
		{name: "Identity", shapes: [][]int64{{5}}, build: func(b *Builder, x []*Value) *Value { return b.Identity(x[0]) }},
		{name: "Relu", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Relu(x[0]) }},
		{name: "LeakyRelu", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.LeakyRelu(x[0], 0.2) }},
		{name: "Sigmoid", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Sigmoid(x[0]) }},
		{name: "Tanh", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Tanh(x[0]) }},
		{name: "Erf", shapes: [][]int64{{7}}, float32: true, build: func(b *Builder, x []*Value) *Value { return b.Erf(x[0]) }},
		{name: "GELU", shapes: [][]int64{{7}}, float32: true, build: func(b *Builder, x []*Value) *Value { return NewLayers(b, 0).GELU(x[0]) }},
		{name: "Exp", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Exp(x[0]) }},
		{name: "Log", shapes: [][]int64{{7}}, positive: true, build: func(b *Builder, x []*Value) *Value { return b.Log(x[0]) }},
		{name: "Sqrt", shapes: [][]int64{{7}}, positive: true, build: func(b *Builder, x []*Value) *Value { return b.Sqrt(x[0]) }},
		{name: "Reciprocal", shapes: [][]int64{{7}}, positive: true, build: func(b *Builder, x []*Value) *Value { return b.Reciprocal(x[0]) }},
		{name: "Sin", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Sin(x[0]) }},
		{name: "Cos", shapes: [][]int64{{7}}, build: func(b *Builder, x []*Value) *Value { return b.Cos(x[0]) }},
		{name: "Where", shapes: x23, build: func(b *Builder, x []*Value) *Value {
			return b.Where(b.Greater(x[0], x[1]), x[0], b.Mul(x[1], b.ScalarLike(x[1], 3)))
		}},
		{name: "Cast", shapes: [][]int64{{4}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.Cast(b.Mul(b.Cast(x[0], Float32), b.Cast(x[0], Float32)), x[0].dtype)
		}},
		{name: "MatMul batched", shapes: [][]int64{{2, 3, 4}, {2, 4, 5}}, build: func(b *Builder, x []*Value) *Value { return b.MatMul(x[0], x[1]) }},
		{name: "MatMul broadcast weight", shapes: [][]int64{{2, 3, 4}, {4, 5}}, build: func(b *Builder, x []*Value) *Value { return b.MatMul(x[0], x[1]) }},
		{name: "MatMul broadcast batch", shapes: [][]int64{{2, 1, 3, 4}, {3, 4, 2}}, build: func(b *Builder, x []*Value) *Value { return b.MatMul(x[0], x[1]) }},
		{name: "Gemm", shapes: [][]int64{{3, 4}, {4, 2}, {2}}, build: func(b *Builder, x []*Value) *Value { return b.Gemm(x[0], x[1], x[2], 0.5, 2, false, false) }},
		{name: "Gemm transposed", shapes: [][]int64{{4, 3}, {2, 4}, {3, 1}}, build: func(b *Builder, x []*Value) *Value { return b.Gemm(x[0], x[1], x[2], 1.5, 1, true, true) }},
		{name: "Conv stride 2 pad 1", shapes: [][]int64{{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.Conv(x[0], x[1], x[2], ConvOptions{Strides: []int64{2, 2}, Pads: []int64{1, 1, 1, 1}})
		}},
		{name: "Conv stride 2 pad 1 even", shapes: [][]int64{{2, 3, 6, 6}, {4, 3, 3, 3}, {4}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.Conv(x[0], x[1], x[2], ConvOptions{Strides: []int64{2, 2}, Pads: []int64{1, 1, 1, 1}})
		}},
		{name: "Conv asymmetric pads dilation", shapes: [][]int64{{1, 2, 6, 5}, {3, 2, 2, 3}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.Conv(x[0], x[1], nil, ConvOptions{Pads: []int64{0, 1, 1, 0}, Dilations: []int64{2, 1}})
		}},
		{name: "ConvTranspose stride 2 pad 1 output padding", shapes: [][]int64{{2, 3, 3, 3}, {3, 4, 3, 3}, {4}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.ConvTranspose(x[0], x[1], x[2], ConvOptions{Strides: []int64{2, 2}, Pads: []int64{1, 1, 1, 1}, OutputPadding: []int64{1, 1}})
		}},
		{name: "ConvTranspose dilation", shapes: [][]int64{{1, 2, 4, 3}, {2, 3, 2, 3}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.ConvTranspose(x[0], x[1], nil, ConvOptions{Pads: []int64{0, 1, 1, 0}, Dilations: []int64{2, 1}})
		}},
		{name: "Softmax", shapes: [][]int64{{2, 5}}, build: func(b *Builder, x []*Value) *Value { return b.Softmax(x[0], -1) }},
		{name: "LogSoftmax", shapes: [][]int64{{2, 5}}, build: func(b *Builder, x []*Value) *Value {
			return b.Op("LogSoftmax", []*Value{x[0]}, []Attr{IntAttr("axis", 1)}, ValueType{x[0].dtype, x[0].shape})[0]
		}},
		{name: "ReduceSum keepdims", shapes: [][]int64{{2, 3, 4}}, build: func(b *Builder, x []*Value) *Value { return b.ReduceSum(x[0], true, 1) }},
		{name: "ReduceMean", shapes: [][]int64{{2, 3, 4}}, build: func(b *Builder, x []*Value) *Value { return b.ReduceMean(x[0], false, 0, -1) }},
		{name: "ReduceMean all", shapes: [][]int64{{2, 3}}, build: func(b *Builder, x []*Value) *Value { return b.ReduceMean(x[0], false) }},
		{name: "ReduceMax", shapes: [][]int64{{3, 4}}, build: func(b *Builder, x []*Value) *Value { return b.ReduceMax(x[0], false, 1) }},
		{name: "LayerNormalization", shapes: [][]int64{{2, 3, 4}, {4}, {4}}, build: func(b *Builder, x []*Value) *Value {
			return b.LayerNorm(x[0], x[1], x[2], -1, 1e-5)
		}},
		{name: "LayerNormalization two axes", shapes: [][]int64{{2, 3, 4}, {3, 4}}, build: func(b *Builder, x []*Value) *Value {
			return b.LayerNorm(x[0], x[1], nil, 1, 1e-3)
		}},
		{name: "InstanceNormalization", shapes: [][]int64{{2, 3, 2, 3}, {3}, {3}}, float32: true, build: func(b *Builder, x []*Value) *Value {
			return b.InstanceNorm(x[0], x[1], x[2], 1e-5)
		}},
		{name: "GroupNorm lowering", shapes: [][]int64{{2, 4, 3, 3}}, build: func(b *Builder, x []*Value) *Value {
			l := NewLayers(b, 1)
			l.DType, l.Primitive = x[0].dtype, true
			return l.GroupNorm("norm", x[0], 2, 1e-5)
		}},
		{name: "Resize nearest x2", shapes: [][]int64{{1, 2, 2, 3}}, float32: true, build: func(b *Builder, x []*Value) *Value { return b.UpsampleNearest(x[0], 2) }},
		{name: "Reshape", shapes: [][]int64{{2, 6}}, build: func(b *Builder, x []*Value) *Value { return b.Mul(b.Reshape(x[0], 3, -1), b.Reshape(x[0], 3, 4)) }},
		{name: "Flatten", shapes: [][]int64{{2, 3, 2}}, build: func(b *Builder, x []*Value) *Value {
			return b.Op("Flatten", []*Value{x[0]}, []Attr{IntAttr("axis", 1)}, ValueType{x[0].dtype, Static(2, 6)})[0]
		}},
		{name: "Transpose", shapes: [][]int64{{2, 3, 4}}, build: func(b *Builder, x []*Value) *Value { return b.Transpose(x[0], 2, 0, 1) }},
		{name: "Concat", shapes: [][]int64{{2, 3}, {2, 1}}, build: func(b *Builder, x []*Value) *Value { return b.Concat(1, x[0], x[1], x[0]) }},
		{name: "Split partly used", shapes: [][]int64{{2, 5}}, build: func(b *Builder, x []*Value) *Value { return b.Split(x[0], 1, 2, 3)[1] }},
		{name: "Slice", shapes: [][]int64{{4, 5}}, build: func(b *Builder, x []*Value) *Value {
			return b.Slice(x[0], []int64{1, -3}, []int64{3, 100}, nil, nil)
		}},
		{name: "Slice dynamic end", shapes: [][]int64{{4, 5}}, build: func(b *Builder, x []*Value) *Value {
			end := b.DimOf(b.Const(NewInt64([]int64{3, 2}, make([]int64, 6))), 0) // 3, known only at run time
			return b.Reshape(b.SliceTo(x[0], b.ConstInts(1), end, 0), 2, 5)       // rows 1..2
		}},
		{name: "Gather rows repeated", shapes: [][]int64{{4, 3}}, build: func(b *Builder, x []*Value) *Value {
			return b.Gather(x[0], b.Const(NewInt64([]int64{2, 2}, []int64{1, 3, 1, 0})), 0)
		}},
		{name: "Gather axis 1", shapes: [][]int64{{2, 4, 3}}, build: func(b *Builder, x []*Value) *Value {
			return b.Gather(x[0], b.Const(NewInt64([]int64{3}, []int64{3, 0, 3})), 1)
		}},
		{name: "Unsqueeze Squeeze", shapes: [][]int64{{3, 1}}, build: func(b *Builder, x []*Value) *Value {
			return b.Mul(b.Unsqueeze(x[0], 0), b.Squeeze(x[0], 1))
		}},
		{name: "Expand", shapes: [][]int64{{3, 1}}, build: func(b *Builder, x []*Value) *Value { return b.Expand(x[0], b.ConstInts(2, 3, 4)) }},
		{name: "attention block", shapes: [][]int64{{2, 3, 8}}, build: func(b *Builder, x []*Value) *Value {
			l := NewLayers(b, 2)
			l.DType = x[0].dtype
			return l.Attention("attn", x[0], nil, 2, 4)
		}},
	}
}

// secondOrderCases check gradients of gradients: each case's output is the
// first-order gradients (of sum(y·r) with respect to every input,
// flattened and joined), which the finite-difference check differentiates
// again. They cover every op that a gradient penalty (R1: the squared
// norm of a discriminator's input gradient) puts between the weights and
// the loss: the backward rules' own ops must have rules.
func secondOrderCases() []gradCase {
	second := func(name string, shapes [][]int64, f32 bool, build func(b *Builder, x []*Value) *Value) gradCase {
		return gradCase{name: "second order " + name, shapes: shapes, float32: f32, build: func(b *Builder, x []*Value) *Value {
			return joinedGradients(b, build(b, x), x)
		}}
	}
	conv := ConvOptions{Strides: []int64{2, 2}, Pads: []int64{1, 1, 1, 1}}
	return []gradCase{
		second("Mul Add", [][]int64{{2, 3}, {3}}, false, func(b *Builder, x []*Value) *Value {
			return b.Mul(b.Add(x[0], x[1]), b.Mul(x[0], x[0]))
		}),
		second("LeakyRelu of a product", [][]int64{{7}, {7}}, false, func(b *Builder, x []*Value) *Value {
			return b.LeakyRelu(b.Mul(x[0], x[1]), 0.2)
		}),
		second("Relu of a product", [][]int64{{7}, {7}}, false, func(b *Builder, x []*Value) *Value {
			return b.Relu(b.Mul(x[0], x[1]))
		}),
		second("Gemm", [][]int64{{3, 4}, {2, 4}, {2}}, false, func(b *Builder, x []*Value) *Value {
			return b.Gemm(x[0], x[1], x[2], 1, 1, false, true)
		}),
		second("MatMul Reshape Transpose", [][]int64{{2, 3, 4}, {4, 5}}, false, func(b *Builder, x []*Value) *Value {
			return b.Transpose(b.Reshape(b.MatMul(x[0], x[1]), 6, 5), 1, 0)
		}),
		second("ReduceSum Expand", [][]int64{{2, 3}, {2, 1}}, false, func(b *Builder, x []*Value) *Value {
			return b.Mul(b.ReduceSum(b.Mul(x[0], x[1]), true, 1), x[1])
		}),
		second("Conv stride 2 pad 1", [][]int64{{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, true, func(b *Builder, x []*Value) *Value {
			return b.Conv(x[0], x[1], x[2], conv)
		}),
		second("Conv even input", [][]int64{{1, 2, 6, 6}, {3, 2, 3, 3}}, true, func(b *Builder, x []*Value) *Value {
			return b.Conv(x[0], x[1], nil, conv)
		}),
		second("ConvTranspose", [][]int64{{2, 3, 3, 3}, {3, 2, 3, 3}}, true, func(b *Builder, x []*Value) *Value {
			return b.ConvTranspose(x[0], x[1], nil, ConvOptions{Strides: []int64{2, 2}, Pads: []int64{1, 1, 1, 1}, OutputPadding: []int64{1, 1}})
		}),
		{name: "R1 penalty of a small discriminator", shapes: [][]int64{{2, 2, 6, 6}, {3, 2, 3, 3}, {3}, {27, 1}}, float32: true,
			build: func(b *Builder, x []*Value) *Value {
				h := b.LeakyRelu(b.Conv(x[0], x[1], x[2], conv), 0.2) // [2,3,3,3]
				d := b.MatMul(b.Reshape(h, 2, 27), x[3])              // [2,1]
				gx, err := b.Gradients(b.ReduceSum(d, false), x[:1])
				if err != nil {
					b.Fail("R1", err)
					return d
				}
				return b.ReduceSum(b.Mul(gx[0], gx[0]), false, 1, 2, 3)
			}},
	}
}

// joinedGradients returns the gradients of sum(y·r) with respect to each of
// x, flattened and joined into one vector (r fixed and random).
func joinedGradients(b *Builder, y *Value, x []*Value) *Value {
	rng := rand.New(rand.NewPCG(3, 4))
	n := y.shape.NumElements()
	r := make([]float64, n)
	for i := range r {
		r[i] = rng.Float64()*2 - 1
	}
	rt := NewFloat64(y.shape.Sizes(), r)
	if y.dtype == Float32 {
		rt = &Tensor{DType: Float32, Shape: rt.Shape, Float32: toF32(r)}
	}
	gs, err := b.Gradients(b.ReduceSum(b.Mul(y, b.Const(rt)), false), x)
	if err != nil {
		b.Fail("joinedGradients", err)
		return y
	}
	flat := make([]*Value, len(gs))
	for i, g := range gs {
		flat[i] = b.Reshape(g, -1)
	}
	return b.Concat(0, flat...)
}

// gradCheckGraph builds the case's graph with inputs x0.., the scalar
// output "loss" = sum(y·r) and the outputs "grad_i".
func gradCheckGraph(t *testing.T, tc gradCase, dt DType) (*Builder, []byte) {
	t.Helper()
	b := NewBuilder("gradcheck")
	ins := make([]*Value, len(tc.shapes))
	for i, s := range tc.shapes {
		ins[i] = b.Input("x"+itoa(i), dt, Static(s...)...)
	}
	y := tc.build(b, ins)
	rng := rand.New(rand.NewPCG(7, 8))
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	r := make([]float64, y.shape.NumElements())
	for i := range r {
		r[i] = rng.Float64()*2 - 1
	}
	rt := NewFloat64(y.shape.Sizes(), r)
	if dt == Float32 {
		rt = &Tensor{DType: Float32, Shape: rt.Shape, Float32: toF32(r)}
	}
	loss := b.ReduceSum(b.Mul(y, b.Const(rt)), false)
	grads, err := b.Gradients(loss, ins)
	if err != nil {
		t.Fatal(err)
	}
	b.Output("loss", b.Reshape(loss, 1)) // ORT cannot hand back rank-0 outputs it allocates
	for i, gv := range grads {
		b.Output("grad_"+itoa(i), gv)
	}
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, data
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestGradientsFiniteDifference(t *testing.T) {
	testort.Init(t)
	for _, tc := range append(gradCases(), secondOrderCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			dt, h, tol := Float64, 1e-6, 1e-6
			if tc.float32 {
				dt, h, tol = Float32, 1e-2, 2e-3
			}
			b, data := gradCheckGraph(t, tc, dt)
			s, err := ort.OpenBytes(tc.name, data, ort.Options{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([][]float64, len(tc.shapes))
			for i, sh := range tc.shapes {
				x[i] = make([]float64, Static(sh...).NumElements())
				for k := range x[i] {
					if tc.positive {
						x[i][k] = 0.5 + rng.Float64()
					} else {
						x[i][k] = rng.Float64()*2 - 1
					}
				}
			}
			feeds := func() map[string]ort.Tensor {
				m := map[string]ort.Tensor{}
				for i, sh := range tc.shapes {
					if dt == Float32 {
						m["x"+itoa(i)] = ort.Tensor{Shape: sh, F32: toF32(x[i])}
					} else {
						m["x"+itoa(i)] = ort.Tensor{Shape: sh, F64: x[i]}
					}
				}
				return m
			}
			run := func(names ...string) map[string]*ort.Tensor {
				out := map[string]*ort.Tensor{}
				for _, n := range names {
					out[n] = &ort.Tensor{}
				}
				if err := s.Run(context.Background(), feeds(), out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			value := func(o *ort.Tensor, k int) float64 {
				if o.F64 != nil {
					return o.F64[k]
				}
				return float64(o.F32[k])
			}
			names := []string{}
			for i := range tc.shapes {
				names = append(names, "grad_"+itoa(i))
			}
			got := run(names...)
			_ = b
			for i := range tc.shapes {
				gi := got["grad_"+itoa(i)]
				if gi.Len() != len(x[i]) {
					t.Fatalf("grad_%d has shape %v, input has %v", i, gi.Shape, tc.shapes[i])
				}
				for k := range x[i] {
					orig := x[i][k]
					x[i][k] = orig + h
					up := value(run("loss")["loss"], 0)
					x[i][k] = orig - h
					down := value(run("loss")["loss"], 0)
					x[i][k] = orig
					fd := (up - down) / (2 * h)
					if d := math.Abs(value(gi, k) - fd); d > tol*(1+math.Abs(fd)) {
						t.Errorf("d loss/d x%d[%d]: autodiff %.8g, finite difference %.8g", i, k, value(gi, k), fd)
					}
				}
			}
		})
	}
}

// TestEveryRuleChecked makes sure no rule goes without a finite-difference
// case: every op in the rule table appears in some case's forward graph.
func TestEveryRuleChecked(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range gradCases() {
		b := NewBuilder("ops")
		ins := make([]*Value, len(tc.shapes))
		for i, s := range tc.shapes {
			ins[i] = b.Input("x"+itoa(i), Float64, Static(s...)...)
		}
		tc.build(b, ins)
		for _, n := range b.Nodes() {
			seen[n.Op] = true
		}
	}
	for op := range gradRules {
		if !seen[op] {
			t.Errorf("gradient rule %s has no finite-difference case", op)
		}
	}
}

func TestGradientsErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder, x *Value) *Value
		want  string
	}{
		{"op without rule", func(b *Builder, x *Value) *Value {
			return b.Op("Softplus", []*Value{x}, nil, ValueType{x.dtype, x.shape})[0]
		}, "Softplus node /Softplus_"},
		{"grouped conv weight", func(b *Builder, x *Value) *Value {
			w := b.Param("w", NewFloat32([]int64{2, 1, 1, 1}, []float32{1, 2}))
			return b.Conv(b.Reshape(x, 1, 2, 1, 2), w, nil, ConvOptions{Group: 2})
		}, "grouped convolution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("bad")
			x := b.Input("x", Float32, D(4))
			y := tc.build(b, x)
			var wrt []*Value
			for _, p := range b.Params() {
				wrt = append(wrt, p.Value)
			}
			wrt = append(wrt, x)
			_, err := b.Gradients(b.ReduceSum(y, false), wrt)
			var ge *GradientError
			if !errors.Is(err, ErrNoGradient) || !errors.As(err, &ge) {
				t.Fatalf("got %v, want a GradientError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to mention %q", err, tc.want)
			}
		})
	}
}
