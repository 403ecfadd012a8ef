package onnxexport

// Gradient rules of the neural-network ops: matrix products, convolution,
// softmax, reductions, the fused normalizations and nearest upsampling.

var nnGrads = map[string]gradRule{
	"MatMul":                matMulGrad,
	"Gemm":                  gemmGrad,
	"Conv":                  convGrad,
	"ConvTranspose":         convTransposeGrad,
	"Softmax":               softmaxGrad,
	"LogSoftmax":            logSoftmaxGrad,
	"ReduceSum":             reduceGrad,
	"ReduceMean":            reduceGrad,
	"ReduceMax":             reduceGrad,
	"LayerNormalization":    layerNormGrad,
	"InstanceNormalization": instanceNormGrad,
	"Resize":                resizeNearestGrad,
}

// swapLast transposes the last two axes of x.
func (g *gradCtx) swapLast(x *Value) *Value {
	r := x.Rank()
	perm := make([]int64, r)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
	return g.Transpose(x, perm...)
}

// flatten2D reshapes x to [rows, last] (ONNX Flatten at the last axis).
func (g *gradCtx) flatten2D(x *Value) *Value {
	r := x.Rank()
	rows := x.shape[:r-1].NumElements()
	return g.Op("Flatten", []*Value{x}, []Attr{IntAttr("axis", int64(r-1))}, ValueType{x.dtype, Shape{D(rows), x.shape[r-1]}})[0]
}

func matMulGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	a, b := n.Inputs[0], n.Inputs[1]
	if a.Rank() < 2 || b.Rank() < 2 {
		return g.unsupported("operands %v and %v: rank-1 operands are not covered", a.shape, b.shape)
	}
	return []*Value{
		g.when(0, func() *Value { return g.sumTo(g.MatMul(dy[0], g.swapLast(b)), a) }),
		g.when(1, func() *Value {
			if b.Rank() == 2 {
				// A weight shared over all batch axes: one [k,rows]·[rows,n]
				// product instead of a batched one and a reduction.
				return g.Gemm(g.flatten2D(a), g.flatten2D(dy[0]), nil, 1, 0, true, false)
			}
			return g.sumTo(g.MatMul(g.swapLast(a), dy[0]), b)
		}),
	}
}

func attrInt(n *Node, name string, def int64) int64 {
	if a := n.Attr(name); a != nil {
		return a.Int
	}
	return def
}

func attrFloat(n *Node, name string, def float32) float32 {
	if a := n.Attr(name); a != nil {
		return a.Float
	}
	return def
}

func attrInts(n *Node, name string) []int64 {
	if a := n.Attr(name); a != nil {
		return a.Ints
	}
	return nil
}

// gemmGrad differentiates Y = alpha·op(A)·op(B) + beta·C; each gradient is
// itself a Gemm with the transpose flags rearranged.
func gemmGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	a, b := n.Inputs[0], n.Inputs[1]
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	ta, tb := attrInt(n, "transA", 0) != 0, attrInt(n, "transB", 0) != 0
	d := dy[0]
	out := []*Value{
		g.when(0, func() *Value {
			if ta {
				return g.Gemm(b, d, nil, alpha, 0, tb, true)
			}
			return g.Gemm(d, b, nil, alpha, 0, false, !tb)
		}),
		g.when(1, func() *Value {
			if tb {
				return g.Gemm(d, a, nil, alpha, 0, true, ta)
			}
			return g.Gemm(a, d, nil, alpha, 0, !ta, false)
		}),
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		c := n.Inputs[2]
		out = append(out, g.when(2, func() *Value {
			if beta == 1 {
				return g.sumTo(d, c)
			}
			return g.sumTo(g.Mul(d, g.scalar(d, float64(beta))), c)
		}))
	}
	return out
}

// convGrad: the input gradient is a ConvTranspose of dy with the same
// weight; the weight gradient is a Conv of x by dy with batch and channel
// axes swapped (stride and dilation trade places); the bias gradient sums
// dy over all but the channel axis.
func convGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, w := n.Inputs[0], n.Inputs[1]
	d := dy[0]
	spatial := x.Rank() - 2
	opt, err := ConvOptions{Strides: attrInts(n, "strides"), Pads: attrInts(n, "pads"),
		Dilations: attrInts(n, "dilations"), Group: attrInt(n, "group", 1)}.filled(spatial)
	if err != nil || n.Attr("auto_pad") != nil {
		return g.unsupported("convolution attributes: %v", err)
	}
	if !x.shape.IsStatic() || !d.shape.IsStatic() {
		// Dynamic batch is fine; the spatial sizes fix output_padding.
		for i := 2; i < x.Rank(); i++ {
			if !x.shape[i].Known() || !d.shape[i].Known() {
				return g.unsupported("input %v: gradient needs static spatial sizes", x.shape)
			}
		}
	}
	kernel := w.shape.Sizes()[2:]
	out := []*Value{
		g.when(0, func() *Value {
			o := opt
			o.OutputPadding = make([]int64, spatial)
			for i := range spatial {
				ke := o.Dilations[i]*(kernel[i]-1) + 1
				full := o.Strides[i]*(d.shape[2+i].Size-1) + ke - o.Pads[i] - o.Pads[spatial+i]
				o.OutputPadding[i] = x.shape[2+i].Size - full
			}
			return g.ConvTranspose(d, w, nil, o)
		}),
		g.when(1, func() *Value {
			if opt.Group != 1 {
				g.unsupported("weight gradient of a grouped convolution (group %d)", opt.Group)
				return nil
			}
			return g.convWeightGrad(x, d, kernel, opt)
		}),
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		axes := []int64{0}
		for i := range spatial {
			axes = append(axes, int64(2+i))
		}
		out = append(out, g.when(2, func() *Value { return g.ReduceSum(d, false, axes...) }))
	}
	return out
}

// convWeightGrad is the weight gradient of a Conv of x whose output has
// gradient d: a Conv of x by d with batch and channel axes swapped (stride
// and dilation trade places), cropped to the kernel.
func (g *gradCtx) convWeightGrad(x, d *Value, kernel []int64, opt ConvOptions) *Value {
	spatial := x.Rank() - 2
	perm := make([]int64, x.Rank())
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[0], perm[1] = 1, 0
	r := g.Conv(g.Transpose(x, perm...), g.Transpose(d, perm...), nil,
		ConvOptions{Strides: opt.Dilations, Dilations: opt.Strides, Pads: opt.Pads})
	if r.shape != nil {
		ends := make([]int64, spatial)
		axes := make([]int64, spatial)
		crop := false
		for i := range spatial {
			ends[i], axes[i] = kernel[i], int64(2+i)
			crop = crop || r.shape[2+i].Size != kernel[i]
		}
		if crop {
			r = g.Slice(r, make([]int64, spatial), ends, axes, nil)
		}
	}
	return g.Transpose(r, perm...)
}

// convTransposeGrad: ConvTranspose is the adjoint of a Conv with the same
// weight, so its input gradient is that Conv of dy, and its weight
// gradient is that Conv's weight gradient with the roles of input and
// output swapped (dy as the Conv's input, x as its output's gradient).
// Convolution gradients are themselves Conv and ConvTranspose nodes, so
// this rule is what lets a gradient graph through a Conv (a gradient
// penalty) be differentiated again.
func convTransposeGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, w := n.Inputs[0], n.Inputs[1]
	d := dy[0]
	spatial := x.Rank() - 2
	opt, err := ConvOptions{Strides: attrInts(n, "strides"), Pads: attrInts(n, "pads"),
		Dilations: attrInts(n, "dilations"), Group: attrInt(n, "group", 1)}.filled(spatial)
	if err != nil || n.Attr("auto_pad") != nil || n.Attr("output_shape") != nil {
		return g.unsupported("transposed convolution attributes: %v", err)
	}
	if opt.Group != 1 {
		return g.unsupported("grouped transposed convolution (group %d)", opt.Group)
	}
	if !d.shape.IsStatic() && (d.shape == nil || d.Rank() != x.Rank()) {
		return g.unsupported("gradient %v: needs known rank", d.shape)
	}
	kernel := w.shape.Sizes()[2:]
	conv := ConvOptions{Strides: opt.Strides, Pads: opt.Pads, Dilations: opt.Dilations}
	out := []*Value{
		g.when(0, func() *Value { return g.Conv(d, w, nil, conv) }),
		g.when(1, func() *Value {
			// The Conv's output (x's shape) may be cropped where the
			// transposed conv's output_padding left rows unread.
			return g.convWeightGrad(d, x, kernel, conv)
		}),
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		axes := []int64{0}
		for i := range spatial {
			axes = append(axes, int64(2+i))
		}
		out = append(out, g.when(2, func() *Value { return g.ReduceSum(d, false, axes...) }))
	}
	return out
}

func softmaxGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	y, axis := n.Outputs[0], attrInt(n, "axis", -1)
	s := g.ReduceSum(g.Mul(dy[0], y), true, axis)
	return []*Value{g.Mul(y, g.Sub(dy[0], s))}
}

func logSoftmaxGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	y, axis := n.Outputs[0], attrInt(n, "axis", -1)
	return []*Value{g.Sub(dy[0], g.Mul(g.Exp(y), g.ReduceSum(dy[0], true, axis)))}
}

// reduceAxes returns the normalized reduced axes of a reduction node (from
// the axes attribute or the constant second input), all axes when none.
func reduceAxes(g *gradCtx, n *Node) ([]int64, bool) {
	x := n.Inputs[0]
	axes := attrInts(n, "axes")
	if len(n.Inputs) > 1 && n.Inputs[1] != nil {
		in := n.Inputs[1].init
		if in == nil {
			g.unsupported("axes must be a constant")
			return nil, false
		}
		axes = in.Tensor.Int64
	}
	r := x.Rank()
	if len(axes) == 0 {
		for i := range r {
			axes = append(axes, int64(i))
		}
	}
	out := make([]int64, len(axes))
	for i, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			g.unsupported("%v", err)
			return nil, false
		}
		out[i] = int64(ax)
	}
	return out, true
}

// reduceGrad spreads dy back over the reduced axes: as is for ReduceSum,
// divided by the count for ReduceMean, onto the maxima for ReduceMax.
func reduceGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, y := n.Inputs[0], n.Outputs[0]
	if x.Rank() < 0 {
		return g.unsupported("input of unknown rank")
	}
	axes, ok := reduceAxes(g, n)
	if !ok {
		return nil
	}
	d, yk := dy[0], y
	if attrInt(n, "keepdims", 1) == 0 {
		sorted := append([]int64{}, axes...)
		sortInts(sorted)
		d, yk = g.Unsqueeze(d, sorted...), g.Unsqueeze(y, sorted...)
	}
	shape := g.ShapeOf(x)
	switch n.Op {
	case "ReduceMean":
		var count *Value
		if c := x.shape.NumElements(); c > 0 && y.shape.NumElements() > 0 {
			count = g.scalar(d, float64(c/y.shape.NumElements()))
		} else {
			size := func(v *Value) *Value {
				return g.Cast(g.Op("Size", []*Value{v}, nil, ValueType{Int64, Shape{}})[0], d.dtype)
			}
			count = g.Div(size(x), size(y))
		}
		return []*Value{g.Expand(g.Div(d, count), shape)}
	case "ReduceMax":
		hit := g.Equal(x, g.Expand(yk, shape))
		return []*Value{g.Where(hit, g.Expand(d, shape), g.scalar(d, 0))}
	}
	return []*Value{g.Expand(d, shape)}
}

func sortInts(v []int64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// normalizedGrad recomputes x̂ = (x - mean)·rstd over axes and returns the
// input gradient rstd·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) together with x̂.
func (g *gradCtx) normalizedGrad(x, dxhat *Value, axes []int64, eps float64) (dx, xhat *Value) {
	xc := g.Sub(x, g.ReduceMean(x, true, axes...))
	variance := g.ReduceMean(g.Mul(xc, xc), true, axes...)
	rstd := g.Reciprocal(g.Sqrt(g.Add(variance, g.scalar(x, eps))))
	xhat = g.Mul(xc, rstd)
	inner := g.Sub(g.Sub(dxhat, g.ReduceMean(dxhat, true, axes...)), g.Mul(xhat, g.ReduceMean(g.Mul(dxhat, xhat), true, axes...)))
	return g.Mul(rstd, inner), xhat
}

func layerNormGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, scale := n.Inputs[0], n.Inputs[1]
	if x.Rank() < 0 || len(n.Outputs) > 1 {
		return g.unsupported("needs known rank and a single output")
	}
	ax, err := normAxis(attrInt(n, "axis", -1), x.Rank())
	if err != nil {
		return g.unsupported("%v", err)
	}
	var axes []int64
	for i := ax; i < x.Rank(); i++ {
		axes = append(axes, int64(i))
	}
	dx, xhat := g.normalizedGrad(x, g.Mul(dy[0], scale), axes, float64(attrFloat(n, "epsilon", 1e-5)))
	out := []*Value{dx, g.when(1, func() *Value { return g.sumTo(g.Mul(dy[0], xhat), scale) })}
	if len(n.Inputs) > 2 && n.Inputs[2] != nil {
		out = append(out, g.when(2, func() *Value { return g.sumTo(dy[0], n.Inputs[2]) }))
	}
	return out
}

func instanceNormGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, scale := n.Inputs[0], n.Inputs[1]
	r := x.Rank()
	if r < 3 {
		return g.unsupported("input %v needs rank >= 3", x.shape)
	}
	var spatial, trailing []int64
	for i := 2; i < r; i++ {
		spatial = append(spatial, int64(i))
		trailing = append(trailing, int64(i-1))
	}
	sc := g.Unsqueeze(scale, trailing...)
	dx, xhat := g.normalizedGrad(x, g.Mul(dy[0], sc), spatial, float64(attrFloat(n, "epsilon", 1e-5)))
	perChannel := append([]int64{0}, spatial...)
	return []*Value{dx,
		g.when(1, func() *Value { return g.ReduceSum(g.Mul(dy[0], xhat), false, perChannel...) }),
		g.when(2, func() *Value { return g.ReduceSum(dy[0], false, perChannel...) }),
	}
}

// resizeNearestGrad covers nearest upsampling by whole factors (each input
// pixel copied to an f×f block): its gradient sums each block, an
// AveragePool scaled by the block size.
func resizeNearestGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x := n.Inputs[0]
	if a := n.Attr("mode"); a == nil || a.String != "nearest" || len(n.Inputs) < 3 || n.Inputs[2] == nil || n.Inputs[2].init == nil {
		return g.unsupported("only nearest mode with constant scales is covered")
	}
	scales, err := n.Inputs[2].init.Tensor.AsFloat32()
	if err != nil || len(scales) != x.Rank() || len(scales) < 3 || scales[0] != 1 || scales[1] != 1 {
		return g.unsupported("scales %v: want 1,1 then whole spatial factors", scales)
	}
	kernel := make([]int64, len(scales)-2)
	block := 1.0
	for i, s := range scales[2:] {
		f := int64(s)
		if float32(f) != s || f < 1 {
			return g.unsupported("scale %v is not a whole factor", s)
		}
		kernel[i] = f
		block *= float64(f)
	}
	pooled := g.Op("AveragePool", []*Value{dy[0]}, []Attr{IntsAttr("kernel_shape", kernel...), IntsAttr("strides", kernel...)}, ValueType{x.dtype, x.shape.clone()})[0]
	return []*Value{g.Mul(pooled, g.scalar(pooled, block))}
}
