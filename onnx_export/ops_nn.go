package onnxexport

import "fmt"

// Neural-network ops: MatMul, Gemm, Conv, ConvTranspose, normalizations,
// Softmax, reductions, ArgMax and ArgMin, nearest Resize.

// MatMul is numpy matmul: batch dimensions broadcast, the last two multiply.
func (b *Builder) MatMul(x, y *Value) *Value {
	if !b.check("MatMul", x, y) {
		return b.placeholder(Float32)
	}
	if x.dtype != y.dtype {
		b.failf("MatMul", ErrType, "%s is %v, %s is %v", x.name, x.dtype, y.name, y.dtype)
		return b.placeholder(x.dtype)
	}
	if x.shape == nil || y.shape == nil {
		return b.op1("MatMul", []*Value{x, y}, nil, x.dtype, nil)
	}
	if x.Rank() < 1 || y.Rank() < 1 {
		b.failf("MatMul", ErrShape, "%s %v and %s %v: scalars cannot multiply", x.name, x.shape, y.name, y.shape)
		return b.placeholder(x.dtype)
	}
	xs, ys := x.shape, y.shape
	if len(xs) == 1 {
		xs = append(Shape{D(1)}, xs...)
	}
	if len(ys) == 1 {
		ys = append(ys.clone(), D(1))
	}
	k1, k2 := xs[len(xs)-1], ys[len(ys)-2]
	if !compatibleDim(k1, k2) {
		b.failf("MatMul", ErrShape, "%s %v times %s %v: inner dimensions %v and %v differ", x.name, x.shape, y.name, y.shape, k1, k2)
		return b.placeholder(x.dtype)
	}
	batch, err := broadcastShapes(xs[:len(xs)-2], ys[:len(ys)-2])
	if err != nil {
		b.failf("MatMul", ErrShape, "%s %v times %s %v: %v", x.name, x.shape, y.name, y.shape, err)
		return b.placeholder(x.dtype)
	}
	out := batch
	if x.Rank() > 1 {
		out = append(out, xs[len(xs)-2])
	}
	if y.Rank() > 1 {
		out = append(out, ys[len(ys)-1])
	}
	return b.op1("MatMul", []*Value{x, y}, nil, x.dtype, out)
}

// Gemm returns alpha*op(a)*op(b) + beta*c for 2-D a and b, where op
// transposes when the flag is set; c may be nil.
func (b *Builder) Gemm(a, bm, c *Value, alpha, beta float32, transA, transB bool) *Value {
	if !b.check("Gemm", a, bm) {
		return b.placeholder(Float32)
	}
	if a.Rank() != 2 || bm.Rank() != 2 {
		b.failf("Gemm", ErrShape, "%s %v and %s %v must both be 2-D", a.name, a.shape, bm.name, bm.shape)
		return b.placeholder(a.dtype)
	}
	m, k1 := a.shape[0], a.shape[1]
	if transA {
		m, k1 = k1, m
	}
	k2, n := bm.shape[0], bm.shape[1]
	if transB {
		k2, n = n, k2
	}
	if !compatibleDim(k1, k2) {
		b.failf("Gemm", ErrShape, "%s %v times %s %v (transA=%v, transB=%v): inner dimensions differ", a.name, a.shape, bm.name, bm.shape, transA, transB)
		return b.placeholder(a.dtype)
	}
	attrs := []Attr{FloatAttr("alpha", alpha), FloatAttr("beta", beta), IntAttr("transA", boolInt(transA)), IntAttr("transB", boolInt(transB))}
	in := []*Value{a, bm}
	if c != nil {
		if _, err := broadcastShapes(Shape{m, n}, c.shape); err != nil {
			b.failf("Gemm", ErrShape, "bias %v does not broadcast to [%v,%v]", c.shape, m, n)
			return b.placeholder(a.dtype)
		}
		in = append(in, c)
	}
	return b.op1("Gemm", in, attrs, a.dtype, Shape{m, n})
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// ConvOptions are Conv/ConvTranspose attributes for the spatial axes. Nil
// slices mean stride 1, no padding, dilation 1; Group 0 means 1. Pads are
// ONNX order: all begins, then all ends.
type ConvOptions struct {
	Strides       []int64
	Pads          []int64
	Dilations     []int64
	Group         int64
	OutputPadding []int64 // ConvTranspose only
}

func (o ConvOptions) filled(spatial int) (ConvOptions, error) {
	fill := func(v []int64, n int, def int64) ([]int64, error) {
		if v == nil {
			v = make([]int64, n)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != n {
			return nil, fmt.Errorf("got %d values, want %d", len(v), n)
		}
		return v, nil
	}
	var err error
	var e [4]error
	o.Strides, e[0] = fill(o.Strides, spatial, 1)
	o.Pads, e[1] = fill(o.Pads, 2*spatial, 0)
	o.Dilations, e[2] = fill(o.Dilations, spatial, 1)
	o.OutputPadding, e[3] = fill(o.OutputPadding, spatial, 0)
	for _, x := range e {
		if x != nil {
			err = x
		}
	}
	if o.Group == 0 {
		o.Group = 1
	}
	return o, err
}

func (o ConvOptions) attrs(transpose bool, kernel []int64) []Attr {
	a := []Attr{IntsAttr("kernel_shape", kernel...), IntsAttr("strides", o.Strides...), IntsAttr("pads", o.Pads...), IntsAttr("dilations", o.Dilations...), IntAttr("group", o.Group)}
	if transpose {
		a = append(a, IntsAttr("output_padding", o.OutputPadding...))
	}
	return a
}

// Conv is an N-d convolution of x [N,C,...] with weight w [M,C/group,k...]
// and optional bias [M].
func (b *Builder) Conv(x, w, bias *Value, opt ConvOptions) *Value {
	return b.conv("Conv", x, w, bias, opt)
}

// ConvTranspose is the transposed convolution of x [N,C,...] with weight
// w [C,M/group,k...] and optional bias [M].
func (b *Builder) ConvTranspose(x, w, bias *Value, opt ConvOptions) *Value {
	return b.conv("ConvTranspose", x, w, bias, opt)
}

func (b *Builder) conv(op string, x, w, bias *Value, opt ConvOptions) *Value {
	if !b.check(op, x, w) {
		return b.placeholder(Float32)
	}
	if x.Rank() < 3 || w.Rank() != x.Rank() || !w.shape.IsStatic() {
		b.failf(op, ErrShape, "input %v and weight %v: want equal ranks >= 3 and a static weight", x.shape, w.shape)
		return b.placeholder(x.dtype)
	}
	spatial := x.Rank() - 2
	o, err := opt.filled(spatial)
	if err != nil {
		b.failf(op, ErrArgument, "options for %d spatial axes: %v", spatial, err)
		return b.placeholder(x.dtype)
	}
	kernel := w.shape.Sizes()[2:]
	cin, outC := w.shape[1].Size*o.Group, w.shape[0].Size
	if op == "ConvTranspose" {
		cin, outC = w.shape[0].Size, w.shape[1].Size*o.Group
	}
	if c := x.shape[1]; c.Known() && c.Size != cin {
		b.failf(op, ErrShape, "input %s %v has %d channels, weight %s %v (group %d) wants %d", x.name, x.shape, c.Size, w.name, w.shape, o.Group, cin)
		return b.placeholder(x.dtype)
	}
	out := Shape{x.shape[0], D(outC)}
	for i := range spatial {
		d := x.shape[2+i]
		ke := o.Dilations[i]*(kernel[i]-1) + 1
		pad := o.Pads[i] + o.Pads[spatial+i]
		if !d.Known() {
			if o.Strides[i] == 1 && pad == ke-1 && o.OutputPadding[i] == 0 {
				out = append(out, d) // "same" convolution keeps the named dimension
			} else {
				out = append(out, Dim{Size: -1})
			}
			continue
		}
		var n int64
		if op == "Conv" {
			n = (d.Size+pad-ke)/o.Strides[i] + 1
		} else {
			n = o.Strides[i]*(d.Size-1) + o.OutputPadding[i] + ke - pad
		}
		if n <= 0 {
			b.failf(op, ErrShape, "input %v with kernel %v gives empty output", x.shape, w.shape)
			return b.placeholder(x.dtype)
		}
		out = append(out, D(n))
	}
	in := []*Value{x, w}
	if bias != nil {
		if bias.Rank() != 1 || (bias.shape[0].Known() && bias.shape[0].Size != outC) {
			b.failf(op, ErrShape, "bias %v does not match %d output channels", bias.shape, outC)
			return b.placeholder(x.dtype)
		}
		in = append(in, bias)
	}
	return b.op1(op, in, o.attrs(op == "ConvTranspose", kernel), x.dtype, out)
}

// Softmax normalizes x along axis.
func (b *Builder) Softmax(x *Value, axis int64) *Value {
	if !b.check("Softmax", x) {
		return b.placeholder(Float32)
	}
	if x.shape != nil {
		if _, err := normAxis(axis, x.Rank()); err != nil {
			b.failf("Softmax", ErrArgument, "%v", err)
			return b.placeholder(x.dtype)
		}
	}
	return b.op1("Softmax", []*Value{x}, []Attr{IntAttr("axis", axis)}, x.dtype, x.shape.clone())
}

// LayerNorm normalizes x over the axes from axis to the last (ONNX
// LayerNormalization, opset 17) and applies scale and optional bias.
func (b *Builder) LayerNorm(x, scale, bias *Value, axis int64, eps float32) *Value {
	if !b.check("LayerNormalization", x, scale) {
		return b.placeholder(Float32)
	}
	if x.shape != nil {
		ax, err := normAxis(axis, x.Rank())
		if err != nil {
			b.failf("LayerNormalization", ErrArgument, "%v", err)
			return b.placeholder(x.dtype)
		}
		if _, err := broadcastShapes(x.shape[ax:], scale.shape); err != nil || scale.Rank() > x.Rank()-ax {
			b.failf("LayerNormalization", ErrShape, "scale %v does not match normalized axes of %v", scale.shape, x.shape)
			return b.placeholder(x.dtype)
		}
	}
	in := []*Value{x, scale}
	if bias != nil {
		in = append(in, bias)
	}
	return b.op1("LayerNormalization", in, []Attr{IntAttr("axis", axis), FloatAttr("epsilon", eps)}, x.dtype, x.shape.clone())
}

// InstanceNorm normalizes each channel of each sample of x [N,C,...] and
// applies per-channel scale and bias [C].
func (b *Builder) InstanceNorm(x, scale, bias *Value, eps float32) *Value {
	if !b.check("InstanceNormalization", x, scale, bias) {
		return b.placeholder(Float32)
	}
	if x.Rank() >= 0 && x.Rank() < 3 {
		b.failf("InstanceNormalization", ErrShape, "input %v has rank < 3", x.shape)
		return b.placeholder(x.dtype)
	}
	if x.Rank() >= 3 && (!compatibleDim(x.shape[1], scale.shape[0]) || !compatibleDim(x.shape[1], bias.shape[0])) {
		b.failf("InstanceNormalization", ErrShape, "input %v channels vs scale %v and bias %v", x.shape, scale.shape, bias.shape)
		return b.placeholder(x.dtype)
	}
	return b.op1("InstanceNormalization", []*Value{x, scale, bias}, []Attr{FloatAttr("epsilon", eps)}, x.dtype, x.shape.clone())
}

func (b *Builder) reduce(op string, x *Value, axes []int64, keepDims bool, axesAsInput bool) *Value {
	if !b.check(op, x) {
		return b.placeholder(Float32)
	}
	var out Shape
	if x.shape != nil {
		drop := make([]bool, x.Rank())
		if len(axes) == 0 {
			for i := range drop {
				drop[i] = true
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, x.Rank())
			if err != nil {
				b.failf(op, ErrArgument, "%v", err)
				return b.placeholder(x.dtype)
			}
			drop[ax] = true
		}
		out = Shape{}
		for i, d := range x.shape {
			switch {
			case !drop[i]:
				out = append(out, d)
			case keepDims:
				out = append(out, D(1))
			}
		}
	}
	attrs := []Attr{IntAttr("keepdims", boolInt(keepDims))}
	in := []*Value{x}
	if len(axes) > 0 {
		if axesAsInput {
			in = append(in, b.ConstInts(axes...))
		} else {
			attrs = append(attrs, IntsAttr("axes", axes...))
		}
	}
	return b.op1(op, in, attrs, x.dtype, out)
}

// ReduceMean averages x over axes (all axes when none are given).
func (b *Builder) ReduceMean(x *Value, keepDims bool, axes ...int64) *Value {
	return b.reduce("ReduceMean", x, axes, keepDims, false)
}

// ReduceSum sums x over axes (all axes when none are given).
func (b *Builder) ReduceSum(x *Value, keepDims bool, axes ...int64) *Value {
	return b.reduce("ReduceSum", x, axes, keepDims, true)
}

// ReduceMax takes the maximum of x over axes (all axes when none are given).
func (b *Builder) ReduceMax(x *Value, keepDims bool, axes ...int64) *Value {
	return b.reduce("ReduceMax", x, axes, keepDims, false)
}

// ArgMax returns int64 indices of the maxima of x along axis.
func (b *Builder) ArgMax(x *Value, axis int64, keepDims bool) *Value {
	return b.argReduce("ArgMax", x, axis, keepDims)
}

// ArgMin returns int64 indices of the minima of x along axis (the first
// one on ties), as a vector quantizer picks the nearest code. Its output
// is an integer, so no gradient flows through it.
func (b *Builder) ArgMin(x *Value, axis int64, keepDims bool) *Value {
	return b.argReduce("ArgMin", x, axis, keepDims)
}

func (b *Builder) argReduce(op string, x *Value, axis int64, keepDims bool) *Value {
	v := b.reduce(op, x, []int64{axis}, keepDims, false)
	if b.err == nil {
		n := v.producer
		n.Attrs = []Attr{IntAttr("axis", axis), IntAttr("keepdims", boolInt(keepDims))}
		v.dtype = Int64
	}
	return v
}

// UpsampleNearest scales the spatial axes of x [N,C,H,W] by an integer
// factor with nearest-neighbour sampling, as torch's
// F.interpolate(mode="nearest").
func (b *Builder) UpsampleNearest(x *Value, factor int64) *Value {
	if !b.check("Resize", x) {
		return b.placeholder(Float32)
	}
	if x.Rank() != 4 || factor < 1 {
		b.failf("Resize", ErrShape, "input %v with factor %d: want rank 4 and factor >= 1", x.shape, factor)
		return b.placeholder(x.dtype)
	}
	out := x.shape.clone()
	for i := 2; i < 4; i++ {
		if out[i].Known() {
			out[i] = D(out[i].Size * factor)
		} else {
			out[i] = Dim{Size: -1}
		}
	}
	f := float32(factor)
	scales := b.ConstFloat32([]int64{4}, []float32{1, 1, f, f})
	attrs := []Attr{StringAttr("mode", "nearest"), StringAttr("coordinate_transformation_mode", "asymmetric"), StringAttr("nearest_mode", "floor")}
	return b.op1("Resize", []*Value{x, nil, scales}, attrs, x.dtype, out)
}
