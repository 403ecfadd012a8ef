package onnxexport

import "math"

// Attention blocks with diffusers semantics: Attention, the GEGLU feed
// forward, BasicTransformerBlock and Transformer2DModel.

// splitHeads turns [B,S,h*d] into [B,h,S,d] (or [B,h,d,S] when keyT, so the
// key is ready for Q·Kᵀ without another Transpose).
func (l *Layers) splitHeads(x *Value, heads, headDim int64, keyT bool) *Value {
	r := l.Reshape(x, 0, 0, heads, headDim)
	if keyT {
		return l.Transpose(r, 0, 2, 3, 1)
	}
	return l.Transpose(r, 0, 2, 1, 3)
}

// scaledDotProduct returns softmax(q·kᵀ/sqrt(d) + mask)·v for q [B,h,S,d],
// kT [B,h,d,T], v [B,h,T,d] and an optional additive mask broadcastable to
// [B,h,S,T], merged back to [B,S,h*d].
func (l *Layers) scaledDotProduct(q, kT, v, mask *Value, heads, headDim int64) *Value {
	scores := l.MatMul(l.Mul(q, l.ScalarLike(q, 1/math.Sqrt(float64(headDim)))), kT)
	if mask != nil {
		scores = l.Add(scores, mask)
	}
	out := l.MatMul(l.Softmax(scores, -1), v)
	return l.Reshape(l.Transpose(out, 0, 2, 1, 3), 0, 0, heads*headDim)
}

// Attention is diffusers' Attention processor on x [B,S,C]: to_q from x,
// to_k and to_v from context (x itself when context is nil), multi-head
// scaled dot-product attention, then to_out.0 (with bias) back to C.
func (l *Layers) Attention(name string, x, context *Value, heads, headDim int64) *Value {
	return l.attention(name, x, context, heads, headDim, false)
}

// attention is Attention with optional to_q/to_k/to_v biases (the VAE's
// attention has them, the UNet's does not).
func (l *Layers) attention(name string, x, context *Value, heads, headDim int64, qkvBias bool) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	if context == nil {
		context = x
	}
	c := l.lastDim("Attention", x)
	inner := heads * headDim
	q := l.splitHeads(l.Linear("to_q", x, inner, qkvBias), heads, headDim, false)
	kT := l.splitHeads(l.Linear("to_k", context, inner, qkvBias), heads, headDim, true)
	v := l.splitHeads(l.Linear("to_v", context, inner, qkvBias), heads, headDim, false)
	out := l.scaledDotProduct(q, kT, v, nil, heads, headDim)
	undo := l.Scope("to_out")
	y := l.Linear("0", out, c, true)
	undo()
	return y
}

// FeedForwardGEGLU is diffusers' FeedForward with the GEGLU activation:
// net.0.proj to 2*mult*C, hidden * gelu(gate), then net.2 back to C.
func (l *Layers) FeedForwardGEGLU(name string, x *Value, mult int64) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	c := l.lastDim("FeedForward", x)
	inner := mult * c
	net := l.Scope("net")
	done0 := l.Scope("0")
	proj := l.Linear("proj", x, 2*inner, true)
	done0()
	parts := l.Split(proj, -1, inner, inner)
	h := l.Mul(parts[0], l.GELU(parts[1]))
	y := l.Linear("2", h, c, true)
	net()
	return y
}

// BasicTransformerBlock is diffusers' block: pre-LayerNorm self-attention,
// cross-attention on context, and a GEGLU feed forward, each residual.
func (l *Layers) BasicTransformerBlock(name string, x, context *Value, heads, headDim int64) *Value {
	defer l.Scope(name)()
	h := l.Add(x, l.Attention("attn1", l.LayerNorm("norm1", x, 1e-5), nil, heads, headDim))
	h = l.Add(h, l.Attention("attn2", l.LayerNorm("norm2", h, 1e-5), context, heads, headDim))
	return l.Add(h, l.FeedForwardGEGLU("ff", l.LayerNorm("norm3", h, 1e-5), 4))
}

// Transformer2DOptions configure Transformer2DModel.
type Transformer2DOptions struct {
	Heads, HeadDim int64
	Layers         int // transformer blocks; 0 means 1
	NormGroups     int64
	// LinearProjection uses Linear proj_in/proj_out (SD 2.x, SDXL) instead
	// of 1x1 convolutions (SD 1.x).
	LinearProjection bool
}

// Transformer2DModel is diffusers' spatial transformer on x [B,C,H,W] with
// cross-attention on context [B,T,D]: GroupNorm, proj_in, transformer
// blocks over the H*W tokens, proj_out, plus the input (residual).
func (l *Layers) Transformer2DModel(name string, x, context *Value, opt Transformer2DOptions) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	c := l.channels("Transformer2DModel", x)
	inner := opt.Heads * opt.HeadDim
	h := l.GroupNorm("norm", x, opt.NormGroups, 1e-6)
	toTokens := func(v *Value, ch int64) *Value { return l.Reshape(l.Transpose(v, 0, 2, 3, 1), 0, -1, ch) }
	if opt.LinearProjection {
		h = l.Linear("proj_in", toTokens(h, c), inner, true)
	} else {
		h = toTokens(l.Conv2d("proj_in", h, inner, 1, Conv2dOptions{}), inner)
	}
	undo := l.Scope("transformer_blocks")
	for i := range max(opt.Layers, 1) {
		h = l.BasicTransformerBlock(itoa(i), h, context, opt.Heads, opt.HeadDim)
	}
	undo()
	// Back to [B,H,W,C'] with H and W taken from x at run time.
	toImage := func(v *Value, ch int64) *Value {
		shape := l.Concat(0, l.DimOf(x, 0), l.DimOf(x, 2), l.DimOf(x, 3), l.ConstInts(ch))
		return l.Transpose(l.ReshapeTo(v, shape), 0, 3, 1, 2)
	}
	if opt.LinearProjection {
		h = toImage(l.Linear("proj_out", h, c, true), c)
	} else {
		h = l.Conv2d("proj_out", toImage(h, inner), c, 1, Conv2dOptions{})
	}
	return l.Add(h, x)
}
