package onnxexport

// Gradient rules of the shape ops: they move gradients back into the
// operand's layout (Reshape, Transpose, Concat/Split, Slice as Pad, Gather
// as an adding ScatterND, Expand as a reduction).

var tensorGrads = map[string]gradRule{
	"Reshape":   reshapeBackGrad,
	"Flatten":   reshapeBackGrad,
	"Unsqueeze": reshapeBackGrad,
	"Squeeze":   reshapeBackGrad,
	"Transpose": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		perm := attrInts(n, "perm")
		if perm == nil { // ONNX default: reverse the axes
			for i := n.Inputs[0].Rank() - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		return []*Value{g.Transpose(dy[0], inv...)}
	},
	"Expand": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		return []*Value{g.sumTo(dy[0], n.Inputs[0]), nil}
	},
	"Concat": concatGrad,
	"Split": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		return []*Value{g.Concat(attrInt(n, "axis", 0), dy...), nil}
	},
	"Slice":  sliceGrad,
	"Gather": gatherGrad,
}

// reshapeBackGrad gives the gradient the operand's run-time shape back.
func reshapeBackGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	out := make([]*Value, len(n.Inputs))
	out[0] = g.ReshapeLike(dy[0], n.Inputs[0])
	return out
}

func concatGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	if n.Outputs[0].Rank() < 0 {
		return g.unsupported("output of unknown rank")
	}
	ax, err := normAxis(attrInt(n, "axis", 0), n.Outputs[0].Rank())
	if err != nil {
		return g.unsupported("%v", err)
	}
	sizes := make([]int64, len(n.Inputs))
	for i, in := range n.Inputs {
		if !in.shape[ax].Known() {
			return g.unsupported("input %d %v has a dynamic size on the concatenated axis", i, in.shape)
		}
		sizes[i] = in.shape[ax].Size
	}
	return g.Split(dy[0], int64(ax), sizes...)
}

// constInts returns the data of a constant int64 input, or false.
func constInts(v *Value) ([]int64, bool) {
	if v == nil || v.init == nil || v.init.Tensor.DType != Int64 {
		return nil, false
	}
	return v.init.Tensor.Int64, true
}

// sliceGrad pads dy with zeros back to the operand's shape; it covers
// constant starts/ends with step 1 on axes of static size.
func sliceGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x := n.Inputs[0]
	out := make([]*Value, len(n.Inputs))
	r := x.Rank()
	starts, ok1 := constInts(n.Inputs[1])
	ends, ok2 := constInts(n.Inputs[2])
	if ok1 && !ok2 && r >= 0 {
		return sliceDynamicEndsGrad(g, n, dy, starts)
	}
	if !ok1 || !ok2 || r < 0 {
		return g.unsupported("needs constant starts and ends and a known rank")
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(n.Inputs) > 3 && n.Inputs[3] != nil {
		if axes, ok1 = constInts(n.Inputs[3]); !ok1 {
			return g.unsupported("needs constant axes")
		}
	}
	if len(n.Inputs) > 4 && n.Inputs[4] != nil {
		steps, ok := constInts(n.Inputs[4])
		for _, s := range steps {
			ok = ok && s == 1
		}
		if !ok {
			return g.unsupported("only step 1 is covered")
		}
	}
	pads := make([]int64, 2*r)
	for i, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil || !x.shape[ax].Known() {
			return g.unsupported("axis %d of %v must be static", a, x.shape)
		}
		size := x.shape[ax].Size
		lo, hi, _ := sliceRange(starts[i], ends[i], 1, size)
		if hi < lo {
			hi = lo
		}
		pads[ax], pads[r+ax] = lo, size-hi
	}
	out[0] = g.Op("Pad", []*Value{dy[0], g.ConstInts(pads...)}, nil, ValueType{x.dtype, x.shape.clone()})[0]
	return out
}

// gatherGrad adds dy into zeros at the gathered rows: with the gathered
// axis moved to the front this is ScatterND with reduction "add", so
// repeated indices (an embedding used twice) accumulate.
func gatherGrad(g *gradCtx, n *Node, dy []*Value) []*Value {
	x, idx := n.Inputs[0], n.Inputs[1]
	r, q := x.Rank(), idx.Rank()
	if r < 0 || q < 0 {
		return g.unsupported("needs known ranks")
	}
	ax, err := normAxis(attrInt(n, "axis", 0), r)
	if err != nil {
		return g.unsupported("%v", err)
	}
	if idx.dtype != Int64 {
		idx = g.Cast(idx, Int64)
	}
	d := dy[0]
	xs := x
	if ax != 0 {
		// Move the gathered axis of x, and the index axes of dy, to the front.
		xperm := []int64{int64(ax)}
		dperm := []int64{}
		for i := range q {
			dperm = append(dperm, int64(ax+i))
		}
		for i := range r {
			if i != ax {
				xperm = append(xperm, int64(i))
			}
		}
		for i := range ax {
			dperm = append(dperm, int64(i))
		}
		for i := ax + q; i < d.Rank(); i++ {
			dperm = append(dperm, int64(i))
		}
		xs, d = g.Transpose(x, xperm...), g.Transpose(d, dperm...)
		scattered := g.scatterAdd(xs, idx, d)
		inv := make([]int64, r)
		for i, p := range xperm {
			inv[p] = int64(i)
		}
		return []*Value{g.Transpose(scattered, inv...), nil}
	}
	return []*Value{g.scatterAdd(xs, idx, d), nil}
}

// scatterAdd returns zeros shaped like x with updates added at rows idx of
// axis 0.
func (g *gradCtx) scatterAdd(x, idx, updates *Value) *Value {
	return g.Op("ScatterND", []*Value{g.zerosLike(x), g.Unsqueeze(idx, -1), updates},
		[]Attr{StringAttr("reduction", "add")}, ValueType{x.dtype, x.shape.clone()})[0]
}
