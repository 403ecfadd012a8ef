package onnxexport

import (
	"fmt"
	"math"
)

// Block type names, as diffusers' configs spell them.
const (
	CrossAttnDownBlock2D = "CrossAttnDownBlock2D"
	DownBlock2D          = "DownBlock2D"
	CrossAttnUpBlock2D   = "CrossAttnUpBlock2D"
	UpBlock2D            = "UpBlock2D"
)

// UNetConfig is the subset of diffusers' UNet2DConditionModel config the
// builder implements. Per-level lists (AttentionHeads, TransformerLayers)
// have one entry per down block; a single entry applies to all levels.
type UNetConfig struct {
	InChannels        int64
	OutChannels       int64
	SampleSize        int64
	BlockOutChannels  []int64
	DownBlockTypes    []string // CrossAttnDownBlock2D or DownBlock2D
	UpBlockTypes      []string // CrossAttnUpBlock2D or UpBlock2D
	LayersPerBlock    int
	AttentionHeads    []int64 // diffusers' (misnamed) attention_head_dim: heads per level
	TransformerLayers []int   // transformer_layers_per_block
	CrossAttentionDim int64
	NormGroups        int64
	NormEps           float64
	LinearProjection  bool
	FlipSinToCos      bool
	FreqShift         float64
	// AdditionTimeEmbedDim > 0 enables SDXL's "text_time" added embedding:
	// inputs text_embeds [B,TextEmbedDim] and time_ids [B,6].
	AdditionTimeEmbedDim int64
	TextEmbedDim         int64
	// TextTimeHeads > 0 enables diffusers' "text" added embedding
	// (addition_embed_type "text", addition_embed_type_num_heads): the
	// encoder hidden states are attention-pooled into one vector
	// (TextTimeEmbedding) that is added to the time embedding, so every
	// resnet sees the whole prompt, not only the cross-attention layers.
	TextTimeHeads int64
	// PositionEmbedding adds a learned [C,SampleSize,SampleSize] embedding
	// (pos_embed, C the first level's channels) to the output of conv_in,
	// so every pixel knows where it is and a prompt's "at the top left"
	// can be drawn there even at the noise levels where nothing else in
	// the sample says where anything is. Not a diffusers option: the
	// graph then takes SampleSize x SampleSize latents only, and its
	// sample input says so with static dimensions.
	PositionEmbedding bool
	// TimeCondProjDim > 0 gives the time embedding diffusers' cond_proj
	// (time_cond_proj_dim): a bias-free linear map of the timestep_cond
	// input [B,TimeCondProjDim] added to the timestep features, which LCM
	// UNets use for the guidance-scale embedding they were distilled with.
	TimeCondProjDim int64
}

// Validate checks that the per-level lists agree.
func (c *UNetConfig) Validate() error {
	n := len(c.BlockOutChannels)
	switch {
	case n == 0:
		return fmt.Errorf("onnxexport: unet config: %w: no block_out_channels", ErrArgument)
	case len(c.DownBlockTypes) != n || len(c.UpBlockTypes) != n:
		return fmt.Errorf("onnxexport: unet config: %w: %d levels but %d down and %d up block types", ErrArgument, n, len(c.DownBlockTypes), len(c.UpBlockTypes))
	case len(c.AttentionHeads) != 1 && len(c.AttentionHeads) != n:
		return fmt.Errorf("onnxexport: unet config: %w: attention heads %v for %d levels", ErrArgument, c.AttentionHeads, n)
	case len(c.TransformerLayers) > 1 && len(c.TransformerLayers) != n:
		return fmt.Errorf("onnxexport: unet config: %w: transformer layers %v for %d levels", ErrArgument, c.TransformerLayers, n)
	case c.TextTimeHeads > 0 && c.AdditionTimeEmbedDim > 0:
		return fmt.Errorf("onnxexport: unet config: %w: both the \"text\" and the \"text_time\" added embeddings", ErrArgument)
	case c.TextTimeHeads > 0 && (c.CrossAttentionDim < 1 || c.CrossAttentionDim%c.TextTimeHeads != 0):
		return fmt.Errorf("onnxexport: unet config: %w: cross_attention_dim %d not divisible by %d text pooling heads", ErrArgument, c.CrossAttentionDim, c.TextTimeHeads)
	case c.PositionEmbedding && c.SampleSize < 1:
		return fmt.Errorf("onnxexport: unet config: %w: a position embedding needs a sample size", ErrArgument)
	case c.TimeCondProjDim < 0:
		return fmt.Errorf("onnxexport: unet config: %w: time_cond_proj_dim %d", ErrArgument, c.TimeCondProjDim)
	case c.LayersPerBlock < 1 || c.NormGroups < 1:
		return fmt.Errorf("onnxexport: unet config: %w: layers_per_block %d, norm groups %d", ErrArgument, c.LayersPerBlock, c.NormGroups)
	}
	for i, t := range c.DownBlockTypes {
		if t != CrossAttnDownBlock2D && t != DownBlock2D {
			return fmt.Errorf("onnxexport: unet config: %w: down block %d type %q", ErrArgument, i, t)
		}
	}
	for i, t := range c.UpBlockTypes {
		if t != CrossAttnUpBlock2D && t != UpBlock2D {
			return fmt.Errorf("onnxexport: unet config: %w: up block %d type %q", ErrArgument, i, t)
		}
	}
	for i, ch := range c.BlockOutChannels {
		if ch%c.NormGroups != 0 || ch%c.heads(i) != 0 {
			return fmt.Errorf("onnxexport: unet config: %w: level %d has %d channels, not divisible by %d groups and %d heads", ErrArgument, i, ch, c.NormGroups, c.heads(i))
		}
	}
	return nil
}

func (c *UNetConfig) heads(level int) int64 {
	if len(c.AttentionHeads) == 1 {
		return c.AttentionHeads[0]
	}
	return c.AttentionHeads[level]
}

func (c *UNetConfig) transformerLayers(level int) int {
	switch len(c.TransformerLayers) {
	case 0:
		return 1
	case 1:
		return c.TransformerLayers[0]
	}
	return c.TransformerLayers[level]
}

// UNetInputs are the graph values a UNet2DConditionModel reads. TextEmbeds
// and TimeIDs are only used with SDXL's added embeddings, TimestepCond
// [B,TimeCondProjDim] only with a time_cond_proj_dim.
type UNetInputs struct {
	Sample, Timestep, EncoderHiddenStates *Value
	TextEmbeds, TimeIDs                   *Value
	TimestepCond                          *Value
}

// UNet2DConditionModel builds diffusers' conditional UNet and returns the
// predicted noise (out_sample). Timestep may be a scalar or [B].
func (l *Layers) UNet2DConditionModel(cfg UNetConfig, in UNetInputs) *Value {
	return l.unet(cfg, in, nil)
}

// blockHook, when not nil, is called after each layer of every down and
// up block (name "motion_modules.J" in the block's scope) and after the
// mid block's attention ("motion_modules.0"), and returns the hidden
// states that go on: how UNetMotionModel inserts its temporal modules
// into the image UNet without changing the spatial layers' names.
type blockHook func(name string, h *Value) *Value

// unet is UNet2DConditionModel with an optional hook between its layers.
func (l *Layers) unet(cfg UNetConfig, in UNetInputs, hook blockHook) *Value {
	if hook == nil {
		hook = func(_ string, h *Value) *Value { return h }
	}
	if err := cfg.Validate(); err != nil {
		l.Fail("UNet2DConditionModel", err)
	}
	if !l.check("UNet2DConditionModel", in.Sample, in.Timestep, in.EncoderHiddenStates) {
		return l.placeholder(l.DType)
	}
	ch0 := cfg.BlockOutChannels[0]
	tembDim := 4 * ch0
	t := l.Expand(in.Timestep, l.DimOf(in.Sample, 0))
	tproj := l.TimestepProjection(t, ch0, cfg.FlipSinToCos, cfg.FreqShift)
	if cfg.TimeCondProjDim > 0 {
		if !l.check("time_embedding.cond_proj", in.TimestepCond) {
			return l.placeholder(l.DType)
		}
		tproj = l.Add(tproj, l.zeroLinearNoBias("time_embedding.cond_proj", in.TimestepCond, cfg.TimeCondProjDim, ch0))
	}
	emb := l.TimestepEmbedding("time_embedding", tproj, tembDim)
	if cfg.AdditionTimeEmbedDim > 0 {
		emb = l.Add(emb, l.sdxlAddedEmbedding(cfg, in, tembDim))
	}
	if cfg.TextTimeHeads > 0 {
		emb = l.Add(emb, l.TextTimeEmbedding("add_embedding", in.EncoderHiddenStates, tembDim, cfg.TextTimeHeads))
	}
	ctx := in.EncoderHiddenStates
	resnet := func(name string, x *Value, out int64) *Value {
		return l.ResnetBlock2D(name, x, emb, ResnetOptions{Out: out, Groups: cfg.NormGroups, Eps: cfg.NormEps})
	}
	transformer := func(name string, x *Value, level int) *Value {
		ch := cfg.BlockOutChannels[level]
		heads := cfg.heads(level)
		return l.Transformer2DModel(name, x, ctx, Transformer2DOptions{
			Heads: heads, HeadDim: ch / heads, Layers: cfg.transformerLayers(level),
			NormGroups: cfg.NormGroups, LinearProjection: cfg.LinearProjection,
		})
	}

	h := l.Conv2d("conv_in", in.Sample, ch0, 3, Conv2dOptions{Padding: 1})
	if cfg.PositionEmbedding {
		h = l.Add(h, l.normalParam("pos_embed", 0.02, 1, ch0, cfg.SampleSize, cfg.SampleSize))
	}
	skips := []*Value{h}
	n := len(cfg.BlockOutChannels)
	for i, ch := range cfg.BlockOutChannels {
		done := l.Scope("down_blocks." + itoa(i))
		for j := range cfg.LayersPerBlock {
			h = resnet("resnets."+itoa(j), h, ch)
			if cfg.DownBlockTypes[i] == CrossAttnDownBlock2D {
				h = transformer("attentions."+itoa(j), h, i)
			}
			h = hook("motion_modules."+itoa(j), h)
			skips = append(skips, h)
		}
		if i < n-1 {
			h = l.Downsample2D("downsamplers.0", h, 1)
			skips = append(skips, h)
		}
		done()
	}

	done := l.Scope("mid_block")
	last := cfg.BlockOutChannels[n-1]
	h = resnet("resnets.0", h, last)
	h = transformer("attentions.0", h, n-1)
	h = hook("motion_modules.0", h)
	h = resnet("resnets.1", h, last)
	done()

	for i := range n {
		level := n - 1 - i
		ch := cfg.BlockOutChannels[level]
		done := l.Scope("up_blocks." + itoa(i))
		for j := range cfg.LayersPerBlock + 1 {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			h = resnet("resnets."+itoa(j), l.Concat(1, h, skip), ch)
			if cfg.UpBlockTypes[i] == CrossAttnUpBlock2D {
				h = transformer("attentions."+itoa(j), h, level)
			}
			h = hook("motion_modules."+itoa(j), h)
		}
		if i < n-1 {
			h = l.Upsample2D("upsamplers.0", h)
		}
		done()
	}
	h = l.SiLU(l.GroupNorm("conv_norm_out", h, cfg.NormGroups, cfg.NormEps))
	return l.Conv2d("conv_out", h, cfg.OutChannels, 3, Conv2dOptions{Padding: 1})
}

// zeroLinearNoBias is a bias-free Linear whose weight starts at zero, so a
// network grown by it starts as the function it grew from (the LCM
// student's cond_proj on its teacher).
func (l *Layers) zeroLinearNoBias(name string, x *Value, in, out int64) *Value {
	defer l.Scope(name)()
	w := l.constParam("weight", 0, out, in)
	return l.MatMul(x, l.Transpose(w, 1, 0))
}

// sdxlAddedEmbedding is the "text_time" embedding: sinusoidal features of
// each time id, flattened and joined to text_embeds, through add_embedding.
func (l *Layers) sdxlAddedEmbedding(cfg UNetConfig, in UNetInputs, tembDim int64) *Value {
	if !l.check("add_embedding", in.TextEmbeds, in.TimeIDs) {
		return l.placeholder(l.DType)
	}
	ids := l.Reshape(in.TimeIDs, -1)
	feats := l.TimestepProjection(ids, cfg.AdditionTimeEmbedDim, cfg.FlipSinToCos, cfg.FreqShift)
	nIDs := int64(6)
	if in.TimeIDs.Rank() == 2 && in.TimeIDs.shape[1].Known() {
		nIDs = in.TimeIDs.shape[1].Size
	}
	feats = l.Reshape(feats, -1, nIDs*cfg.AdditionTimeEmbedDim)
	return l.TimestepEmbedding("add_embedding", l.Concat(-1, in.TextEmbeds, feats), tembDim)
}

// TextTimeEmbedding is diffusers' TextTimeEmbedding on x [B,S,D]: norm1,
// attention pooling (pool: a query made from the mean token plus a learned
// positional_embedding attends over that token and the S others, heads
// heads), proj to out and norm2, giving [B,out].
func (l *Layers) TextTimeEmbedding(name string, x *Value, out, heads int64) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	d := l.lastDim("TextTimeEmbedding", x)
	if heads < 1 || d%heads != 0 {
		l.failf("TextTimeEmbedding", ErrArgument, "%d channels in %d heads", d, heads)
		return l.placeholder(l.DType)
	}
	h := l.LayerNorm("norm1", x, 1e-5)
	h = l.attentionPooling("pool", h, heads)
	h = l.Linear("proj", h, out, true)
	return l.LayerNorm("norm2", h, 1e-5)
}

// attentionPooling is diffusers' AttentionPooling: [B,S,D] → [B,D].
func (l *Layers) attentionPooling(name string, x *Value, heads int64) *Value {
	defer l.Scope(name)()
	d := l.lastDim("AttentionPooling", x)
	pos := l.normalParam("positional_embedding", 1/math.Sqrt(float64(d)), 1, d)
	class := l.Add(l.ReduceMean(x, true, 1), pos) // [B,1,D]
	all := l.Concat(1, class, x)                  // [B,S+1,D]
	headDim := d / heads
	q := l.splitHeads(l.Linear("q_proj", class, d, true), heads, headDim, false)
	kT := l.splitHeads(l.Linear("k_proj", all, d, true), heads, headDim, true)
	v := l.splitHeads(l.Linear("v_proj", all, d, true), heads, headDim, false)
	return l.Reshape(l.scaledDotProduct(q, kT, v, nil, heads, headDim), 0, d)
}

// NewUNetGraph returns a builder holding the UNet with Optimum's input and
// output names: sample [batch_size,C,height,width] float32, timestep (a
// float32 scalar), encoder_hidden_states [batch_size,sequence_length,D]
// (plus text_embeds and time_ids for SDXL, timestep_cond for an LCM UNet)
// → out_sample.
func NewUNetGraph(cfg UNetConfig, seed uint64) *Builder {
	b := NewBuilder("unet")
	l := NewLayers(b, seed)
	height, width := Sym("height"), Sym("width")
	if cfg.PositionEmbedding {
		height, width = D(cfg.SampleSize), D(cfg.SampleSize)
	}
	in := UNetInputs{
		Sample:              b.Input("sample", Float32, Sym("batch_size"), D(cfg.InChannels), height, width),
		Timestep:            b.Input("timestep", Float32),
		EncoderHiddenStates: b.Input("encoder_hidden_states", Float32, Sym("batch_size"), Sym("sequence_length"), D(cfg.CrossAttentionDim)),
	}
	if cfg.AdditionTimeEmbedDim > 0 {
		in.TextEmbeds = b.Input("text_embeds", Float32, Sym("batch_size"), D(cfg.TextEmbedDim))
		in.TimeIDs = b.Input("time_ids", Float32, Sym("batch_size"), D(6))
	}
	if cfg.TimeCondProjDim > 0 {
		in.TimestepCond = b.Input("timestep_cond", Float32, Sym("batch_size"), D(cfg.TimeCondProjDim))
	}
	out := l.UNet2DConditionModel(cfg, in)
	b.OutputAs("out_sample", out, Sym("batch_size"), D(cfg.OutChannels), height, width)
	return b
}
