package onnxexport

import "fmt"

// A small DiT (Peebles & Xie, "Scalable Diffusion Models with
// Transformers", 2023) for the trainer and its PyTorch benchmark: patchify
// by a strided conv, transformer blocks whose LayerNorms are modulated
// (shift, scale) and whose residual branches are gated by a projection of
// the timestep embedding (adaLN), a modulated final layer, unpatchify.
// scripts/bench_dit_train.py defines the same network in PyTorch.

// DiTConfig sizes a DiT.
type DiTConfig struct {
	InChannels int64 // latent channels
	Size       int64 // latent height and width
	Patch      int64
	Hidden     int64
	Depth      int64
	Heads      int64
}

// TinyDiTConfig is the tiny-dit training architecture's size.
func TinyDiTConfig() DiTConfig {
	return DiTConfig{InChannels: 4, Size: 8, Patch: 2, Hidden: 64, Depth: 2, Heads: 4}
}

// Validate reports sizes that do not fit together.
func (c DiTConfig) Validate() error {
	if c.InChannels < 1 || c.Patch < 1 || c.Size%c.Patch != 0 || c.Heads < 1 || c.Hidden%c.Heads != 0 || c.Hidden%2 != 0 || c.Depth < 1 {
		return fmt.Errorf("onnxexport: dit config %+v: %w: want size divisible by patch, hidden even and divisible by heads, depth >= 1", c, ErrArgument)
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
// x += gate2·MLP(modulate(x)), with the six modulation vectors projected
// from c (SiLU of the conditioning embedding, [B, hidden]).
func (l *Layers) DiTBlock(name string, x, c *Value, heads int64) *Value {
	defer l.Scope(name)()
	d := l.lastDim("DiTBlock", x)
	mod := l.Unsqueeze(l.Linear("adaLN_modulation", c, 6*d, true), 1)
	m := l.Split(mod, -1, d, d, d, d, d, d)
	h := l.Attention("attn", l.modulate(x, m[0], m[1]), nil, heads, d/heads)
	x = l.Add(x, l.Mul(m[2], h))
	done := l.Scope("mlp")
	h = l.Linear("fc2", l.GELU(l.Linear("fc1", l.modulate(x, m[3], m[4]), 4*d, true)), d, true)
	done()
	return l.Add(x, l.Mul(m[5], h))
}

// DiT maps noisy latents x [B,C,S,S] and timesteps t [B] to the predicted
// noise [B,C,S,S].
func (l *Layers) DiT(cfg DiTConfig, x, t *Value) *Value {
	if err := cfg.Validate(); err != nil {
		l.Fail("DiT", err)
		return l.placeholder(l.DType)
	}
	p, d, g := cfg.Patch, cfg.Hidden, cfg.Size/cfg.Patch
	h := l.Conv2d("x_embedder", x, d, p, Conv2dOptions{Stride: p})
	h = l.Transpose(l.Reshape(h, 0, d, g*g), 0, 2, 1) // [B, tokens, hidden]
	h = l.Add(h, l.normalParam("pos_embed", 0.02, 1, g*g, d))
	temb := l.TimestepEmbedding("t_embedder", l.TimestepProjection(t, d, true, 0), d)
	c := l.SiLU(temb)
	for i := range cfg.Depth {
		h = l.DiTBlock("blocks."+itoa(int(i)), h, c, cfg.Heads)
	}
	done := l.Scope("final_layer")
	mod := l.Split(l.Unsqueeze(l.Linear("adaLN_modulation", c, 2*d, true), 1), -1, d, d)
	h = l.Linear("linear", l.modulate(h, mod[0], mod[1]), p*p*cfg.InChannels, true)
	done()
	// Unpatchify: [B, g·g, p·p·C] → [B, g, g, p, p, C] → [B, C, g, p, g, p].
	h = l.Transpose(l.Reshape(h, 0, g, g, p, p, cfg.InChannels), 0, 5, 1, 3, 2, 4)
	return l.Reshape(h, 0, cfg.InChannels, cfg.Size, cfg.Size)
}

// NewDiTGraph builds the DiT inference graph: sample [batch,C,S,S] and
// timestep [batch] (float) to out_sample, with random weights from seed.
func NewDiTGraph(cfg DiTConfig, seed uint64) *Builder {
	b := NewBuilder("dit")
	x := b.Input("sample", Float32, Sym("batch_size"), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	t := b.Input("timestep", Float32, Sym("batch_size"))
	b.Output("out_sample", NewLayers(b, seed).DiT(cfg, x, t))
	return b
}

// NewDiTLoss builds the DiT's training loss on a batch: inputs sample,
// timestep and target (the noise); loss MSE(DiT(sample, timestep), target).
// Its parameters match NewDiTGraph's for the same seed.
func NewDiTLoss(cfg DiTConfig, seed uint64, batch int64) (*Builder, *Value) {
	b := NewBuilder("dit")
	x := b.Input("sample", Float32, D(batch), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	t := b.Input("timestep", Float32, D(batch))
	target := b.Input("target", Float32, D(batch), D(cfg.InChannels), D(cfg.Size), D(cfg.Size))
	return b, b.MSELoss(NewLayers(b, seed).DiT(cfg, x, t), target)
}
