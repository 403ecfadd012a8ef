package onnxexport

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Layers builds parameterized network blocks on a Builder. Each block
// method takes the block's name, enters it as a Scope (so parameters get
// diffusers-style state_dict names such as "conv_in.weight"), creates its
// parameters with random values from a seeded PCG generator, and returns
// the block's output. Two Layers with the same seed and the same call
// sequence create identical weights.
type Layers struct {
	*Builder
	// DType is the element type of new parameters: Float32 (the default)
	// or Float64 for graphs that gradient checks run in double precision.
	DType DType
	// Primitive lowers GroupNorm and LayerNorm to ReduceMean/Sub/Mul/Sqrt
	// instead of InstanceNormalization and LayerNormalization, for graphs
	// that are differentiated op by op.
	Primitive bool
	rng       *rand.Rand
}

// NewLayers returns Layers over b whose random weights come from seed.
func NewLayers(b *Builder, seed uint64) *Layers {
	return &Layers{Builder: b, DType: Float32, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// newTensor makes a parameter tensor of l.DType filled by gen.
func (l *Layers) newTensor(shape []int64, gen func() float64) *Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if n < 0 || n > maxTensorElements {
		n = 0
	}
	if l.DType == Float64 {
		data := make([]float64, n)
		for i := range data {
			data[i] = gen()
		}
		return NewFloat64(shape, data)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(gen())
	}
	return NewFloat32(shape, data)
}

// uniformParam is PyTorch's default Linear/Conv init: U(-bound, bound).
func (l *Layers) uniformParam(name string, bound float64, shape ...int64) *Value {
	return l.Param(name, l.newTensor(shape, func() float64 { return (2*l.rng.Float64() - 1) * bound }))
}

// normalParam draws N(0, std^2), as transformers initializes embeddings.
func (l *Layers) normalParam(name string, std float64, shape ...int64) *Value {
	return l.Param(name, l.newTensor(shape, func() float64 { return l.rng.NormFloat64() * std }))
}

// constParam fills a parameter with v (norm scales 1, shifts 0).
func (l *Layers) constParam(name string, v float64, shape ...int64) *Value {
	return l.Param(name, l.newTensor(shape, func() float64 { return v }))
}

// scalar returns a scalar constant in the parameter type.
func (l *Layers) scalar(v float64) *Value { return l.Const(scalarTensor(l.DType, v)) }

// lastDim returns x's last dimension if static, failing the build if not.
func (l *Layers) lastDim(op string, x *Value) int64 {
	if x.Rank() < 1 || !x.shape[x.Rank()-1].Known() {
		l.failf(op, ErrShape, "%s %v needs a static last dimension", x.name, x.shape)
		return 1
	}
	return x.shape[x.Rank()-1].Size
}

// channels returns x's dimension 1 if static, failing the build if not.
func (l *Layers) channels(op string, x *Value) int64 {
	if x.Rank() < 2 || !x.shape[1].Known() {
		l.failf(op, ErrShape, "%s %v needs a static channel dimension", x.name, x.shape)
		return 1
	}
	return x.shape[1].Size
}

// Linear is torch.nn.Linear over the last axis of x: weight [out,in]
// (torch layout, so names and shapes match the state_dict) and an
// optional bias [out].
func (l *Layers) Linear(name string, x *Value, out int64, bias bool) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	in := l.lastDim("Linear", x)
	if in != 0 && x.dtype != l.DType {
		l.failf("Linear", ErrType, "input %s is %v, parameters are %v", x.name, x.dtype, l.DType)
		return l.placeholder(l.DType)
	}
	bound := 1 / math.Sqrt(float64(in))
	w := l.uniformParam("weight", bound, out, in)
	y := l.MatMul(x, l.Transpose(w, 1, 0))
	if bias {
		y = l.Add(y, l.uniformParam("bias", bound, out))
	}
	return y
}

// Conv2dOptions configure Conv2d; zero values mean stride 1, padding 0,
// bias on (NoBias turns it off).
type Conv2dOptions struct {
	Stride  int64
	Padding int64
	// Pads overrides Padding with explicit ONNX pads (top, left, bottom,
	// right), as the VAE encoder's asymmetric downsampling needs.
	Pads   []int64
	NoBias bool
}

// Conv2d is torch.nn.Conv2d on x [N,C,H,W] with a square kernel.
func (l *Layers) Conv2d(name string, x *Value, out, kernel int64, opt Conv2dOptions) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	in := l.channels("Conv2d", x)
	bound := 1 / math.Sqrt(float64(in*kernel*kernel))
	w := l.uniformParam("weight", bound, out, in, kernel, kernel)
	var bias *Value
	if !opt.NoBias {
		bias = l.uniformParam("bias", bound, out)
	}
	stride := max(opt.Stride, 1)
	pads := opt.Pads
	if pads == nil {
		p := opt.Padding
		pads = []int64{p, p, p, p}
	}
	return l.Conv(x, w, bias, ConvOptions{Strides: []int64{stride, stride}, Pads: pads})
}

// GroupNorm is torch.nn.GroupNorm on x [N,C,...]: statistics over groups
// of C/groups channels and all spatial positions, then a per-channel
// affine transform. It lowers to Reshape + InstanceNormalization (what
// ORT's CPU provider runs fastest), or to primitives when l.Primitive.
func (l *Layers) GroupNorm(name string, x *Value, groups int64, eps float64) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	c := l.channels("GroupNorm", x)
	if groups <= 0 || c%groups != 0 {
		l.failf("GroupNorm", ErrShape, "%d channels of %s %v do not split into %d groups", c, x.name, x.shape, groups)
		return l.placeholder(x.dtype)
	}
	weight := l.constParam("weight", 1, c)
	bias := l.constParam("bias", 0, c)
	grouped := l.Reshape(x, 0, groups, -1)
	var normed *Value
	if l.Primitive {
		normed = l.normalizeLast(grouped, eps)
	} else {
		ones := l.Const(l.newTensor([]int64{groups}, func() float64 { return 1 }))
		zeros := l.Const(l.newTensor([]int64{groups}, func() float64 { return 0 }))
		normed = l.InstanceNorm(grouped, ones, zeros, float32(eps))
	}
	y := l.ReshapeLike(normed, x)
	trailing := make([]int64, x.Rank()-2)
	for i := range trailing {
		trailing[i] = int64(i + 1)
	}
	return l.Add(l.Mul(y, l.Unsqueeze(weight, trailing...)), l.Unsqueeze(bias, trailing...))
}

// normalizeLast returns (x - mean) / sqrt(var + eps) over the last axis,
// built from primitive ops.
func (l *Layers) normalizeLast(x *Value, eps float64) *Value {
	centered := l.Sub(x, l.ReduceMean(x, true, -1))
	variance := l.ReduceMean(l.Mul(centered, centered), true, -1)
	return l.Div(centered, l.Sqrt(l.Add(variance, l.scalar(eps))))
}

// LayerNorm is torch.nn.LayerNorm over the last axis of x.
func (l *Layers) LayerNorm(name string, x *Value, eps float64) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	c := l.lastDim("LayerNorm", x)
	weight := l.constParam("weight", 1, c)
	bias := l.constParam("bias", 0, c)
	if l.Primitive {
		return l.Add(l.Mul(l.normalizeLast(x, eps), weight), bias)
	}
	return l.Builder.LayerNorm(x, weight, bias, -1, float32(eps))
}

// SiLU returns x * sigmoid(x).
func (l *Layers) SiLU(x *Value) *Value { return l.Mul(x, l.Sigmoid(x)) }

// GELU returns the exact (erf) GELU, 0.5 x (1 + erf(x / sqrt 2)).
func (l *Layers) GELU(x *Value) *Value {
	inner := l.Erf(l.Mul(x, l.ScalarLike(x, 1/math.Sqrt2)))
	return l.Mul(l.Mul(x, l.ScalarLike(x, 0.5)), l.Add(inner, l.ScalarLike(x, 1)))
}

// QuickGELU returns x * sigmoid(1.702 x), CLIP's activation.
func (l *Layers) QuickGELU(x *Value) *Value {
	return l.Mul(x, l.Sigmoid(l.Mul(x, l.ScalarLike(x, 1.702))))
}

// Activation applies the activation called name ("silu", "swish", "gelu",
// "quick_gelu", "relu"), as diffusers and transformers configs name them.
func (l *Layers) Activation(name string, x *Value) *Value {
	switch name {
	case "silu", "swish":
		return l.SiLU(x)
	case "gelu":
		return l.GELU(x)
	case "quick_gelu":
		return l.QuickGELU(x)
	case "relu":
		return l.Relu(x)
	}
	l.Fail("Activation", fmt.Errorf("%w: unknown activation %q", ErrArgument, name))
	return l.placeholder(l.DType)
}

// Embedding is torch.nn.Embedding: rows of weight [num, dim] at ids.
func (l *Layers) Embedding(name string, ids *Value, num, dim int64, std float64) *Value {
	defer l.Scope(name)()
	w := l.normalParam("weight", std, num, dim)
	return l.Gather(w, ids, 0)
}
