package onnxexport

import "math"

// Gradient rules of the element-wise ops. Binary ops reduce their
// gradients to each operand's shape (sumTo), undoing broadcasting.

// gradRules is the table Gradients looks rules up in, keyed by op type.
var gradRules = mergeRules(elementwiseGrads, nnGrads, tensorGrads)

func mergeRules(tables ...map[string]gradRule) map[string]gradRule {
	out := map[string]gradRule{}
	for _, t := range tables {
		for op, r := range t {
			out[op] = r
		}
	}
	return out
}

var elementwiseGrads = map[string]gradRule{
	"Add": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		a, b := n.Inputs[0], n.Inputs[1]
		return []*Value{
			g.when(0, func() *Value { return g.sumTo(dy[0], a) }),
			g.when(1, func() *Value { return g.sumTo(dy[0], b) }),
		}
	},
	"Sub": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		a, b := n.Inputs[0], n.Inputs[1]
		return []*Value{
			g.when(0, func() *Value { return g.sumTo(dy[0], a) }),
			g.when(1, func() *Value { return g.sumTo(g.Neg(dy[0]), b) }),
		}
	},
	"Mul": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		a, b := n.Inputs[0], n.Inputs[1]
		return []*Value{
			g.when(0, func() *Value { return g.sumTo(g.Mul(dy[0], b), a) }),
			g.when(1, func() *Value { return g.sumTo(g.Mul(dy[0], a), b) }),
		}
	},
	"Div": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		a, b, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		return []*Value{
			g.when(0, func() *Value { return g.sumTo(g.Div(dy[0], b), a) }),
			// d(a/b)/db = -a/b² = -y/b
			g.when(1, func() *Value { return g.sumTo(g.Neg(g.Div(g.Mul(dy[0], y), b)), b) }),
		}
	},
	"Pow": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		x, p, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		return []*Value{
			g.when(0, func() *Value {
				return g.sumTo(g.Mul(dy[0], g.Mul(p, g.Pow(x, g.Sub(p, g.scalar(p, 1))))), x)
			}),
			g.when(1, func() *Value { return g.sumTo(g.Mul(dy[0], g.Mul(y, g.Log(x))), p) }),
		}
	},
	"Max": func(g *gradCtx, n *Node, dy []*Value) []*Value { return minMaxGrad(g, n, dy, true) },
	"Min": func(g *gradCtx, n *Node, dy []*Value) []*Value { return minMaxGrad(g, n, dy, false) },
	"Neg": func(g *gradCtx, n *Node, dy []*Value) []*Value { return []*Value{g.Neg(dy[0])} },
	"Identity": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		return []*Value{dy[0]}
	},
	"Abs": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		return []*Value{g.Mul(dy[0], g.Op("Sign", []*Value{n.Inputs[0]}, nil, ValueType{n.Inputs[0].dtype, n.Inputs[0].shape})[0])}
	},
	"Relu": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		x := n.Inputs[0]
		return []*Value{g.Mul(dy[0], g.mask(g.Greater(x, g.scalar(x, 0)), x))}
	},
	"LeakyRelu": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		// The slope (1 or alpha) is a constant of x, so the rule's own
		// gradient is again a product with that slope.
		x := n.Inputs[0]
		slope := g.Where(g.Greater(x, g.scalar(x, 0)), g.scalar(x, 1), g.scalar(x, float64(attrFloat(n, "alpha", 0.01))))
		return []*Value{g.Mul(dy[0], slope)}
	},
	"Sigmoid": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		y := n.Outputs[0]
		return []*Value{g.Mul(dy[0], g.Mul(y, g.Sub(g.scalar(y, 1), y)))}
	},
	"Tanh": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		y := n.Outputs[0]
		return []*Value{g.Mul(dy[0], g.Sub(g.scalar(y, 1), g.Mul(y, y)))}
	},
	"Erf": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		x := n.Inputs[0]
		d := g.Mul(g.scalar(x, 2/math.Sqrt(math.Pi)), g.Exp(g.Neg(g.Mul(x, x))))
		return []*Value{g.Mul(dy[0], d)}
	},
	"Exp": func(g *gradCtx, n *Node, dy []*Value) []*Value { return []*Value{g.Mul(dy[0], n.Outputs[0])} },
	"Log": func(g *gradCtx, n *Node, dy []*Value) []*Value { return []*Value{g.Div(dy[0], n.Inputs[0])} },
	"Sqrt": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		y := n.Outputs[0]
		return []*Value{g.Div(g.Mul(dy[0], g.scalar(y, 0.5)), y)}
	},
	"Reciprocal": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		y := n.Outputs[0]
		return []*Value{g.Neg(g.Mul(dy[0], g.Mul(y, y)))}
	},
	"Sin": func(g *gradCtx, n *Node, dy []*Value) []*Value { return []*Value{g.Mul(dy[0], g.Cos(n.Inputs[0]))} },
	"Cos": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		return []*Value{g.Neg(g.Mul(dy[0], g.Sin(n.Inputs[0])))}
	},
	"Where": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		c, a, b := n.Inputs[0], n.Inputs[1], n.Inputs[2]
		zero := g.scalar(dy[0], 0)
		return []*Value{nil,
			g.when(1, func() *Value { return g.sumTo(g.Where(c, dy[0], zero), a) }),
			g.when(2, func() *Value { return g.sumTo(g.Where(c, zero, dy[0]), b) }),
		}
	},
	"Cast": func(g *gradCtx, n *Node, dy []*Value) []*Value {
		x := n.Inputs[0]
		if !differentiable(x.dtype) {
			return []*Value{nil}
		}
		return []*Value{g.Cast(dy[0], x.dtype)}
	},
}

// minMaxGrad routes dy to the operand that won (the first on ties, as
// PyTorch's maximum does not split: the gradient goes to one side only).
func minMaxGrad(g *gradCtx, n *Node, dy []*Value, isMax bool) []*Value {
	a, b := n.Inputs[0], n.Inputs[1]
	var firstWins *Value
	if isMax {
		firstWins = g.Not(g.Less(a, b))
	} else {
		firstWins = g.Not(g.Greater(a, b))
	}
	zero := g.scalar(dy[0], 0)
	return []*Value{
		g.when(0, func() *Value { return g.sumTo(g.Where(firstWins, dy[0], zero), a) }),
		g.when(1, func() *Value { return g.sumTo(g.Where(firstWins, zero, dy[0]), b) }),
	}
}
