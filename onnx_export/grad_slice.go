package onnxexport

// sliceDynamicEndsGrad is the Slice rule when the starts are constants but
// the ends are computed at run time (CLIP's position table cut to the
// sequence length): the gradient is dy padded back to the operand's shape,
// with the leading pads the starts and the trailing pads found at run time
// as shape(x) − start − shape(dy) on every axis.
func sliceDynamicEndsGrad(g *gradCtx, n *Node, dy []*Value, starts []int64) []*Value {
	x := n.Inputs[0]
	r := x.Rank()
	out := make([]*Value, len(n.Inputs))
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(n.Inputs) > 3 && n.Inputs[3] != nil {
		var ok bool
		if axes, ok = constInts(n.Inputs[3]); !ok {
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
	lo := make([]int64, r)
	for i, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return g.unsupported("%v", err)
		}
		s := starts[i]
		if s < 0 || (x.shape[ax].Known() && s > x.shape[ax].Size) {
			if !x.shape[ax].Known() {
				return g.unsupported("negative start %d on the dynamic axis %d", s, ax)
			}
			s, _, _ = sliceRange(s, x.shape[ax].Size, 1, x.shape[ax].Size)
		}
		lo[ax] = s
	}
	loV := g.ConstInts(lo...)
	hi := g.Sub(g.Sub(g.ShapeOf(x), loV), g.ShapeOf(dy[0]))
	pads := g.Concat(0, loV, hi)
	out[0] = g.Op("Pad", []*Value{dy[0], pads}, nil, ValueType{x.dtype, x.shape.clone()})[0]
	return out
}
