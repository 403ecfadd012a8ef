package onnxexport

import "fmt"

// A DiT (Peebles & Xie, "Scalable Diffusion Models with Transformers",
// 2023): patchify by a strided conv, transformer blocks whose LayerNorms
// are modulated (shift, scale) and whose residual branches are gated by a
// projection of the conditioning embedding (adaLN), a modulated final
// layer, unpatchify. With a ContextDim the blocks also cross-attend to a
// text encoder's hidden states (PixArt-α's placement: after self-attention,
// ungated) and the mean of those states joins the timestep embedding in
// the adaLN conditioning. The adaLN projections and the final linear layer
// start at zero (adaLN-Zero), so every block starts as the identity and the
// network as zero. scripts/bench_dit_train.py defines the unconditional
// network in PyTorch; scripts/train_dit trains the text-conditioned one as
// a rectified flow (builtin:dit).

// DiTConfig sizes a DiT.
type DiTConfig struct {
	InChannels int64 // latent channels
	Size       int64 // latent height and width
	Patch      int64
	Hidden     int64
	Depth      int64
	Heads      int64
	// ContextDim is the width of the text encoder hidden states the blocks
	// cross-attend to; 0 makes an unconditional DiT.
	ContextDim int64
}

// TinyDiTConfig is the tiny-dit training architecture's size.
func TinyDiTConfig() DiTConfig {
	return DiTConfig{InChannels: 4, Size: 8, Patch: 2, Hidden: 64, Depth: 2, Heads: 4}
}

// Validate reports sizes that do not fit together.
func (c DiTConfig) Validate() error {
	if c.InChannels < 1 || c.Patch < 1 || c.Size%c.Patch != 0 || c.Heads < 1 || c.Hidden%c.Heads != 0 || c.Hidden%2 != 0 || c.Depth < 1 || c.ContextDim < 0 {
		return fmt.Errorf("onnxexport: dit config %+v: %w: want size divisible by patch, hidden even and divisible by heads, depth >= 1, context dim >= 0", c, ErrArgument)
	}
	return nil
}

// modulate returns LayerNorm(x)·(1 + scale) + shift with a LayerNorm
// without affine parameters (elementwise_affine=False, eps 1e-6).
func (l *Layers) modulate(x, shift, scale *Value) *Value {
	d := l.lastDim("DiT", x)
	ones := l.Const(l.newTensor([]int64{d}, func() float64 { return 1 }))
	n := l.Builder.LayerNorm(x, ones, nil, -1, 1e-6)
	return l.Add(l.Mul(n, l.Add(scale, l.scalar(1))), shift)
}

// DiTBlock is one transformer block: x += gate1·Attn(modulate(x)),
// [x += CrossAttn(LayerNorm(x), context)], x += gate2·MLP(modulate(x)),
// with the six modulation vectors projected from c (SiLU of the
// conditioning embedding, [B, hidden]) by a projection that starts at zero.
// context may be nil (no cross-attention).
func (l *Layers) DiTBlock(name string, x, c, context *Value, heads int64) *Value {
	defer l.Scope(name)()
	d := l.lastDim("DiTBlock", x)
	mod := l.Unsqueeze(l.zeroLinear("adaLN_modulation", c, 6*d), 1)
	m := l.Split(mod, -1, d, d, d, d, d, d)
	h := l.Attention("attn", l.modulate(x, m[0], m[1]), nil, heads, d/heads)
	x = l.Add(x, l.Mul(m[2], h))
	if context != nil {
		x = l.Add(x, l.Attention("cross_attn", l.LayerNorm("norm_cross", x, 1e-6), context, heads, d/heads))
	}
	done := l.Scope("mlp")
	h = l.Linear("fc2", l.GELU(l.Linear("fc1", l.modulate(x, m[3], m[4]), 4*d, true)), d, true)
	done()
	return l.Add(x, l.Mul(m[5], h))
}

// DiT maps noisy latents x [B,C,S,S], timesteps t [B] (0–1000) and, with
// cfg.ContextDim, text hidden states context [B,L,ContextDim] to the
// prediction [B,C,S,S] (the noise, or the velocity of a rectified flow:
// the network does not care which).
func (l *Layers) DiT(cfg DiTConfig, x, t, context *Value) *Value {
	if err := cfg.Validate(); err != nil {
		l.Fail("DiT", err)
		return l.placeholder(l.DType)
	}
	if (context != nil) != (cfg.ContextDim > 0) {
		l.Fail("DiT", fmt.Errorf("onnxexport: dit: %w: context dim %d with context %v", ErrArgument, cfg.ContextDim, context != nil))
		return l.placeholder(l.DType)
	}
	p, d, g := cfg.Patch, cfg.Hidden, cfg.Size/cfg.Patch
	h := l.Conv2d("x_embedder", x, d, p, Conv2dOptions{Stride: p})
	h = l.Transpose(l.Reshape(h, 0, d, g*g), 0, 2, 1) // [B, tokens, hidden]
	h = l.Add(h, l.normalParam("pos_embed", 0.02, 1, g*g, d))
	temb := l.TimestepEmbedding("t_embedder", l.TimestepProjection(t, d, true, 0), d)
	if context != nil {
		pooled := l.ReduceMean(context, false, 1) // [B, ContextDim]
		temb = l.Add(temb, l.TimestepEmbedding("y_embedder", pooled, d))
	}
	c := l.SiLU(temb)
	for i := range cfg.Depth {
		h = l.DiTBlock("blocks."+itoa(int(i)), h, c, context, cfg.Heads)
	}
	done := l.Scope("final_layer")
	mod := l.Split(l.Unsqueeze(l.zeroLinear("adaLN_modulation", c, 2*d), 1), -1, d, d)
	h = l.zeroLinear("linear", l.modulate(h, mod[0], mod[1]), p*p*cfg.InChannels)
	done()
	// Unpatchify: [B, g·g, p·p·C] → [B, g, g, p, p, C] → [B, C, g, p, g, p].
	h = l.Transpose(l.Reshape(h, 0, g, g, p, p, cfg.InChannels), 0, 5, 1, 3, 2, 4)
	return l.Reshape(h, 0, cfg.InChannels, cfg.Size, cfg.Size)
}

// NewDiTGraph builds the DiT inference graph with a UNet's input and
// output names, so the latent-diffusion pipeline runs it where it runs a
// UNet: sample [batch,C,S,S] and timestep [batch] (float), with
// cfg.ContextDim also encoder_hidden_states [batch,sequence,ContextDim], to
// out_sample; random weights from seed.
func NewDiTGraph(cfg DiTConfig, seed uint64) *Builder {
	b := NewBuilder("dit")
	x := b.Input("sample", Float32, Sym("batch_size"), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	t := b.Input("timestep", Float32, Sym("batch_size"))
	var ctx *Value
	if cfg.ContextDim > 0 {
		ctx = b.Input("encoder_hidden_states", Float32, Sym("batch_size"), Sym("sequence_length"), D(cfg.ContextDim))
	}
	b.Output("out_sample", NewLayers(b, seed).DiT(cfg, x, t, ctx))
	return b
}

// NewDiTLoss builds the DiT's training loss on a batch: inputs sample,
// timestep, target and, with cfg.ContextDim, encoder_hidden_states of
// contextLen tokens; loss MSE(DiT(sample, timestep, states), target). The
// caller decides what the target is (the noise; for a rectified flow the
// velocity noise − x0 at sample = (1−σ)·x0 + σ·noise, timestep 1000σ). Its
// parameters match NewDiTGraph's for the same seed.
func NewDiTLoss(cfg DiTConfig, seed uint64, batch, contextLen int64) (*Builder, *Value) {
	b := NewBuilder("dit")
	x := b.Input("sample", Float32, D(batch), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	t := b.Input("timestep", Float32, D(batch))
	var ctx *Value
	if cfg.ContextDim > 0 {
		ctx = b.Input("encoder_hidden_states", Float32, D(batch), D(contextLen), D(cfg.ContextDim))
	}
	target := b.Input("target", Float32, D(batch), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	return b, b.MSELoss(NewLayers(b, seed).DiT(cfg, x, t, ctx), target)
}
