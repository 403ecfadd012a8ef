package onnxexport

import "fmt"

// VAEConfig is the subset of diffusers' AutoencoderKL config the builder
// implements (DownEncoderBlock2D / UpDecoderBlock2D blocks, mid-block
// attention, quant convs).
type VAEConfig struct {
	InChannels       int64
	OutChannels      int64
	LatentChannels   int64
	BlockOutChannels []int64
	LayersPerBlock   int
	NormGroups       int64
	SampleSize       int64
	ScalingFactor    float64
}

// Validate checks the configuration.
func (c *VAEConfig) Validate() error {
	if len(c.BlockOutChannels) == 0 || c.LayersPerBlock < 1 || c.NormGroups < 1 || c.LatentChannels < 1 {
		return fmt.Errorf("onnxexport: vae config: %w: block_out_channels %v, layers_per_block %d, groups %d, latent channels %d", ErrArgument, c.BlockOutChannels, c.LayersPerBlock, c.NormGroups, c.LatentChannels)
	}
	for i, ch := range c.BlockOutChannels {
		if ch%c.NormGroups != 0 {
			return fmt.Errorf("onnxexport: vae config: %w: level %d has %d channels, not divisible by %d groups", ErrArgument, i, ch, c.NormGroups)
		}
	}
	return nil
}

const vaeEps = 1e-6

func (l *Layers) vaeResnet(name string, x *Value, out int64, cfg VAEConfig) *Value {
	return l.ResnetBlock2D(name, x, nil, ResnetOptions{Out: out, Groups: cfg.NormGroups, Eps: vaeEps})
}

// spatialSelfAttention is the VAE mid-block Attention: GroupNorm, one head
// over all H*W positions (with q/k/v biases), to_out.0, plus the input.
func (l *Layers) spatialSelfAttention(name string, x *Value, groups int64) *Value {
	defer l.Scope(name)()
	c := l.channels("Attention", x)
	h := l.GroupNorm("group_norm", x, groups, vaeEps)
	tokens := l.Transpose(l.Reshape(h, 0, c, -1), 0, 2, 1)
	a := l.attention("", tokens, nil, 1, c, true)
	back := l.ReshapeLike(l.Transpose(a, 0, 2, 1), x)
	return l.Add(back, x)
}

func (l *Layers) vaeMidBlock(x *Value, cfg VAEConfig) *Value {
	defer l.Scope("mid_block")()
	c := l.channels("mid_block", x)
	h := l.vaeResnet("resnets.0", x, c, cfg)
	undo := l.Scope("attentions")
	h = l.spatialSelfAttention("0", h, cfg.NormGroups)
	undo()
	return l.vaeResnet("resnets.1", h, c, cfg)
}

// VAEEncoder builds AutoencoderKL's encoder plus quant_conv on x
// [B,InChannels,H,W] and returns the latent distribution's parameters
// [B,2*LatentChannels,H/f,W/f] (mean, then log-variance).
func (l *Layers) VAEEncoder(cfg VAEConfig, x *Value) *Value {
	if err := cfg.Validate(); err != nil {
		l.Fail("VAEEncoder", err)
		return l.placeholder(l.DType)
	}
	enc := l.Scope("encoder")
	n := len(cfg.BlockOutChannels)
	h := l.Conv2d("conv_in", x, cfg.BlockOutChannels[0], 3, Conv2dOptions{Padding: 1})
	for i, ch := range cfg.BlockOutChannels {
		done := l.Scope("down_blocks." + itoa(i))
		for j := range cfg.LayersPerBlock {
			h = l.vaeResnet("resnets."+itoa(j), h, ch, cfg)
		}
		if i < n-1 {
			h = l.Downsample2D("downsamplers.0", h, 0)
		}
		done()
	}
	h = l.vaeMidBlock(h, cfg)
	h = l.SiLU(l.GroupNorm("conv_norm_out", h, cfg.NormGroups, vaeEps))
	h = l.Conv2d("conv_out", h, 2*cfg.LatentChannels, 3, Conv2dOptions{Padding: 1})
	enc()
	return l.Conv2d("quant_conv", h, 2*cfg.LatentChannels, 1, Conv2dOptions{})
}

// VAEDecoder builds post_quant_conv plus AutoencoderKL's decoder on
// (unscaled) latents z [B,LatentChannels,h,w] and returns the image
// [B,OutChannels,h*f,w*f] in [-1,1] (not clamped).
func (l *Layers) VAEDecoder(cfg VAEConfig, z *Value) *Value {
	if err := cfg.Validate(); err != nil {
		l.Fail("VAEDecoder", err)
		return l.placeholder(l.DType)
	}
	n := len(cfg.BlockOutChannels)
	h := l.Conv2d("post_quant_conv", z, cfg.LatentChannels, 1, Conv2dOptions{})
	dec := l.Scope("decoder")
	h = l.Conv2d("conv_in", h, cfg.BlockOutChannels[n-1], 3, Conv2dOptions{Padding: 1})
	h = l.vaeMidBlock(h, cfg)
	for i := range n {
		ch := cfg.BlockOutChannels[n-1-i]
		done := l.Scope("up_blocks." + itoa(i))
		for j := range cfg.LayersPerBlock + 1 {
			h = l.vaeResnet("resnets."+itoa(j), h, ch, cfg)
		}
		if i < n-1 {
			h = l.Upsample2D("upsamplers.0", h)
		}
		done()
	}
	h = l.SiLU(l.GroupNorm("conv_norm_out", h, cfg.NormGroups, vaeEps))
	h = l.Conv2d("conv_out", h, cfg.OutChannels, 3, Conv2dOptions{Padding: 1})
	dec()
	return h
}

// NewVAEEncoderGraph returns the encoder with Optimum's names: sample
// [batch_size,C,height,width] → latent_parameters.
func NewVAEEncoderGraph(cfg VAEConfig, seed uint64) *Builder {
	b := NewBuilder("vae_encoder")
	l := NewLayers(b, seed)
	x := b.Input("sample", Float32, Sym("batch_size"), D(cfg.InChannels), Sym("height"), Sym("width"))
	b.OutputAs("latent_parameters", l.VAEEncoder(cfg, x), Sym("batch_size"), D(2*cfg.LatentChannels), Sym("latent_height"), Sym("latent_width"))
	return b
}

// NewVAEDecoderGraph returns the decoder with Optimum's names:
// latent_sample [batch_size,L,latent_height,latent_width] → sample.
//
// It uses the same seed stream as a full AutoencoderKL would only if the
// encoder was built first; export code builds both from one Layers (see
// ExportOptimum) so shared names get the same weights.
func NewVAEDecoderGraph(cfg VAEConfig, seed uint64) *Builder {
	b := NewBuilder("vae_decoder")
	l := NewLayers(b, seed)
	z := b.Input("latent_sample", Float32, Sym("batch_size"), D(cfg.LatentChannels), Sym("latent_height"), Sym("latent_width"))
	b.OutputAs("sample", l.VAEDecoder(cfg, z), Sym("batch_size"), D(cfg.OutChannels), Sym("height"), Sym("width"))
	return b
}
