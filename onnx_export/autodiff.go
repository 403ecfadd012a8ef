package onnxexport

import (
	"errors"
	"fmt"
)

// Reverse-mode automatic differentiation over a Builder's graph. The
// backward pass is appended to the same builder as ordinary ONNX ops, one
// small rule per primitive op (the table in grad_*.go), so ONNX Runtime
// runs forward and backward as one graph with no training-only operators.

// ErrNoGradient reports an op on the path from a parameter to the loss that
// has no gradient rule (or a configuration its rule does not cover). It is
// returned wrapped in a GradientError naming the op and the node.
var ErrNoGradient = errors.New("no gradient rule")

// GradientError is the error Gradients returns when it cannot differentiate
// a node. It unwraps to ErrNoGradient.
type GradientError struct {
	Op     string // the node's op type
	Node   string // the node's name (its block path)
	Reason string // why, when the op has a rule that does not cover this use
}

func (e *GradientError) Error() string {
	msg := fmt.Sprintf("onnxexport: gradient of %s node %s: %v", e.Op, e.Node, ErrNoGradient)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *GradientError) Unwrap() error { return ErrNoGradient }

// gradRule returns one gradient per input of n (nil where the input gets
// none) given the gradients dy of n's outputs. Rules build only the
// gradients g.want asks for.
type gradRule func(g *gradCtx, n *Node, dy []*Value) []*Value

// gradCtx is what a rule sees: the builder, which inputs need a gradient,
// and a way to refuse a configuration the rule does not cover.
type gradCtx struct {
	*Builder
	want   []bool // want[i]: input i of the current node needs a gradient
	reason string // set by unsupported
}

// when builds the gradient of input i only if it is wanted.
func (g *gradCtx) when(i int, f func() *Value) *Value {
	if i < len(g.want) && g.want[i] {
		return f()
	}
	return nil
}

// unsupported records why the current node cannot be differentiated; the
// rule then returns nil gradients and Gradients reports a GradientError.
func (g *gradCtx) unsupported(format string, args ...any) []*Value {
	g.reason = fmt.Sprintf(format, args...)
	return nil
}

// differentiable reports whether gradients flow through values of type dt.
func differentiable(dt DType) bool {
	return dt == Float32 || dt == Float64 || dt == Float16
}

// Gradients appends to b the backward pass of loss and returns d loss / d x
// for each x in wrt (a zero tensor for an x the loss does not depend on).
// A loss with more than one element is differentiated as the sum of its
// elements. Values in wrt are usually the parameters' values (Params()[i].
// Value) or graph inputs. Gradients returns b's sticky error, or a
// *GradientError (unwrapping to ErrNoGradient) naming the first op and node
// on the path it cannot differentiate.
func (b *Builder) Gradients(loss *Value, wrt []*Value) ([]*Value, error) {
	if b.err != nil {
		return nil, b.err
	}
	if !b.check("Gradients", append([]*Value{loss}, wrt...)...) {
		return nil, b.err
	}
	if !differentiable(loss.dtype) {
		return nil, fmt.Errorf("onnxexport: gradients of %s: %w: loss is %v, not floating point", loss.name, ErrArgument, loss.dtype)
	}
	// needs: values that depend on some wrt value (forward sweep).
	needs := map[*Value]bool{}
	for _, v := range wrt {
		needs[v] = true
	}
	for _, n := range b.nodes {
		dep := false
		for _, in := range n.Inputs {
			dep = dep || (in != nil && needs[in])
		}
		for _, out := range n.Outputs {
			if dep && differentiable(out.dtype) && !out.stopGrad {
				needs[out] = true
			}
		}
	}
	grads := map[*Value]*Value{}
	if needs[loss] {
		seed := b.ScalarLike(loss, 1)
		if loss.Rank() != 0 {
			seed = b.Expand(seed, b.ShapeOf(loss))
		}
		grads[loss] = seed
	}
	// Only nodes that exist now are differentiated: the backward pass
	// appends to b.nodes as it goes.
	forward := b.nodes
	for k := len(forward) - 1; k >= 0 && b.err == nil; k-- {
		n := forward[k]
		dy := make([]*Value, len(n.Outputs))
		any := false
		for i, out := range n.Outputs {
			dy[i] = grads[out]
			any = any || dy[i] != nil
		}
		if !any {
			continue
		}
		want := make([]bool, len(n.Inputs))
		wanted := false
		for i, in := range n.Inputs {
			want[i] = in != nil && needs[in]
			wanted = wanted || want[i]
		}
		if !wanted {
			continue
		}
		rule, ok := gradRules[n.Op]
		if !ok || n.Domain != "" {
			return nil, &GradientError{Op: n.Op, Node: n.Name}
		}
		for i, out := range n.Outputs {
			if dy[i] == nil && differentiable(out.dtype) {
				dy[i] = b.zerosLike(out)
			}
		}
		g := &gradCtx{Builder: b, want: want}
		dx := rule(g, n, dy)
		if g.reason != "" {
			return nil, &GradientError{Op: n.Op, Node: n.Name, Reason: g.reason}
		}
		for i, in := range n.Inputs {
			if !want[i] || i >= len(dx) || dx[i] == nil {
				continue
			}
			if prev := grads[in]; prev != nil {
				grads[in] = b.Add(prev, dx[i])
			} else {
				grads[in] = dx[i]
			}
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	out := make([]*Value, len(wrt))
	for i, v := range wrt {
		out[i] = grads[v]
		if out[i] == nil {
			out[i] = b.zerosLike(v)
		}
	}
	return out, b.err
}

// StopGradient returns x unchanged (an Identity node) as a value that
// Gradients treats as a constant: no gradient flows back through it into
// x, as torch's x.detach(). The straight-through estimator of a vector
// quantizer is z + StopGradient(q - z): the forward pass sees q, the
// backward pass the identity into z.
func (b *Builder) StopGradient(x *Value) *Value {
	y := b.Identity(x)
	if b.err == nil {
		y.stopGrad = true
	}
	return y
}

// zerosLike returns zeros of x's run-time shape and type.
func (b *Builder) zerosLike(x *Value) *Value {
	z := b.ScalarLike(x, 0)
	if x.Rank() == 0 {
		return b.Identity(z)
	}
	return b.Expand(z, b.ShapeOf(x))
}

// sumTo reduces a broadcast gradient dy to the shape of operand x: leading
// axes x lacks are summed away and axes where x has size 1 are summed with
// the size kept, the reverse of numpy broadcasting.
func (g *gradCtx) sumTo(dy, x *Value) *Value {
	if dy.shape == nil || x.shape == nil {
		g.unsupported("broadcast gradient needs known ranks, got %v and %v", dy.shape, x.shape)
		return dy
	}
	lead := len(dy.shape) - len(x.shape)
	if lead < 0 {
		g.unsupported("gradient %v has lower rank than operand %v", dy.shape, x.shape)
		return dy
	}
	var axes []int64
	for i := range lead {
		axes = append(axes, int64(i))
	}
	for i, d := range x.shape {
		gd := dy.shape[lead+i]
		if d.Known() && d.Size == 1 && !(gd.Known() && gd.Size == 1) {
			axes = append(axes, int64(lead+i))
		}
	}
	if len(axes) == 0 {
		return dy
	}
	r := g.ReduceSum(dy, true, axes...)
	if lead > 0 {
		r = g.Squeeze(r, axes[:lead]...)
	}
	return r
}

// scalar returns a constant of dy's element type.
func (g *gradCtx) scalar(like *Value, v float64) *Value { return g.ScalarLike(like, v) }

// mask returns cond as 0/1 in like's element type.
func (g *gradCtx) mask(cond, like *Value) *Value { return g.Cast(cond, like.dtype) }
