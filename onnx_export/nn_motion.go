package onnxexport

import "fmt"

// MotionConfig configures the temporal modules UNetMotionModel inserts
// into an image UNet, in the manner of AnimateDiff's motion modules: one
// after every layer of each down and up block and after the mid block's
// attention, each a self-attention over the frames at every latent pixel.
type MotionConfig struct {
	// Heads is the attention head count of every module; each level's
	// channel count must be divisible by it.
	Heads int64
	// MaxFrames is diffusers' motion_max_seq_length: frame k of F is
	// placed at position k·(MaxFrames−1)/(F−1), so a clip of any length
	// up to MaxFrames spans the same range of the sinusoidal frame
	// embedding (a model trained on 8 frames meets the positions of 16
	// between the ones it saw, not beyond them).
	MaxFrames int64
	// TextDim > 0 gives the modules the prompt: an attention pooling of
	// the encoder hidden states (motion_text, TextHeads heads) to TextDim
	// floats, projected into every module. The spatial layers see the
	// prompt frame by frame; which way the picture moves over the frames
	// is the temporal modules' to decide.
	TextDim, TextHeads int64
}

// Validate checks the settings against the UNet's levels.
func (m MotionConfig) Validate(cfg UNetConfig) error {
	switch {
	case m.Heads < 1 || m.MaxFrames < 2:
		return fmt.Errorf("onnxexport: motion config: %w: %d heads, %d frames at most", ErrArgument, m.Heads, m.MaxFrames)
	case m.TextDim < 0 || (m.TextDim > 0 && (m.TextHeads < 1 || cfg.CrossAttentionDim%m.TextHeads != 0)):
		return fmt.Errorf("onnxexport: motion config: %w: text width %d with %d heads over %d channels", ErrArgument, m.TextDim, m.TextHeads, cfg.CrossAttentionDim)
	}
	for i, ch := range cfg.BlockOutChannels {
		if ch%m.Heads != 0 || ch%2 != 0 {
			return fmt.Errorf("onnxexport: motion config: %w: level %d has %d channels, not divisible by %d heads", ErrArgument, i, ch, m.Heads)
		}
	}
	return nil
}

// IsMotionParam reports whether a UNetMotionModel parameter belongs to the
// temporal modules (what a motion-module training run trains) rather than
// to the image UNet it was grown from.
func IsMotionParam(name string) bool {
	return containsWord(name, "motion_modules") || containsWord(name, "motion_text")
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || s[i-1] == '.') && (i+len(w) == len(s) || s[i+len(w)] == '.') {
			return true
		}
	}
	return false
}

// UNetMotionModel builds a text-to-video UNet over in.Sample [B,C,F,h,w]:
// the image UNet of cfg applied to the B·F frames (its parameters keep
// their names, so an image UNet's weights load unchanged), with a motion
// module after each of its layers. Every module's output projection
// starts at zero, so the network starts as the image model run frame by
// frame. in.Timestep is a scalar or [B]; in.EncoderHiddenStates is
// [B,S,D] (one prompt per clip). It returns the prediction [B,C,F,h,w].
func (l *Layers) UNetMotionModel(cfg UNetConfig, m MotionConfig, in UNetInputs) *Value {
	if err := m.Validate(cfg); err != nil {
		l.Fail("UNetMotionModel", err)
	}
	if !l.check("UNetMotionModel", in.Sample, in.Timestep, in.EncoderHiddenStates) {
		return l.placeholder(l.DType)
	}
	if in.Sample.Rank() != 5 {
		l.failf("UNetMotionModel", ErrShape, "sample %v, want [B,C,F,h,w]", in.Sample.shape)
		return l.placeholder(l.DType)
	}
	frames := l.DimOf(in.Sample, 2)
	// [B,C,F,h,w] → [B,F,C,h,w] → [B·F,C,h,w]: frames are pictures to the
	// spatial layers.
	byFrame := l.Transpose(in.Sample, 0, 2, 1, 3, 4)
	flat := l.ReshapeTo(byFrame, l.Concat(0, l.ConstInts(-1), l.Slice(l.ShapeOf(byFrame), []int64{2}, []int64{5}, nil, nil)))
	ctx := in.EncoderHiddenStates
	perFrame := UNetInputs{Sample: flat, Timestep: l.repeatPerFrame(in.Timestep, frames), EncoderHiddenStates: l.repeatPerFrame(ctx, frames)}

	var text *Value
	if m.TextDim > 0 {
		text = l.TextTimeEmbedding("motion_text", ctx, m.TextDim, m.TextHeads)
	}
	pos := l.framePositions(frames, m.MaxFrames)
	hook := func(name string, h *Value) *Value {
		return l.motionModule(name, h, frames, pos, text, m.Heads)
	}
	out := l.unet(cfg, perFrame, hook)
	// [B·F,C,h,w] → [B,F,C,h,w] → [B,C,F,h,w]
	clip := l.ReshapeTo(out, l.Concat(0, l.ConstInts(-1), frames, l.Slice(l.ShapeOf(out), []int64{1}, []int64{4}, nil, nil)))
	return l.Transpose(clip, 0, 2, 1, 3, 4)
}

// repeatPerFrame repeats each row of x (rank ≥ 1, [B,...]) frames times,
// giving [B·F,...] with clip b's rows together; a scalar is returned as
// it is (it broadcasts).
func (l *Layers) repeatPerFrame(x, frames *Value) *Value {
	if x.Rank() == 0 {
		return x
	}
	rest := l.Slice(l.ShapeOf(x), []int64{1}, []int64{int64(x.Rank())}, nil, nil)
	wide := l.Expand(l.Unsqueeze(x, 1), l.Concat(0, l.DimOf(x, 0), frames, rest))
	return l.ReshapeTo(wide, l.Concat(0, l.ConstInts(-1), rest))
}

// framePositions returns [F] float positions k·(maxFrames−1)/max(F−1, 1).
func (l *Layers) framePositions(frames *Value, maxFrames int64) *Value {
	f := l.Squeeze(l.Cast(frames, l.DType), 0)
	k := l.Op("Range", []*Value{l.scalar(0), f, l.scalar(1)}, nil, ValueType{l.DType, Shape{Sym("num_frames")}})[0]
	span := l.Max(l.Sub(f, l.scalar(1)), l.scalar(1))
	return l.Mul(k, l.Div(l.scalar(float64(maxFrames-1)), span))
}

// motionModule is one temporal module on h [B·F,C,H,W]: at every pixel,
// the F frames' features (layer-normed, plus a projection of the
// sinusoidal frame position and of the pooled prompt) attend to each
// other, and proj_out, zero at the start, adds the result to h.
func (l *Layers) motionModule(name string, h, frames, pos, text *Value, heads int64) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	c := l.channels("motion module", h)
	x3 := l.Reshape(h, 0, c, -1) // [B·F,C,HW]
	x4 := l.ReshapeTo(x3, l.Concat(0, l.ConstInts(-1), frames, l.Slice(l.ShapeOf(x3), []int64{1}, []int64{3}, nil, nil)))
	t := l.Transpose(x4, 0, 3, 1, 2) // [B,HW,F,C]
	z := l.LayerNorm("norm", t, 1e-5)
	z = l.Add(z, l.Linear("pos_proj", l.TimestepProjection(pos, c, true, 0), c, true)) // [F,C]
	if text != nil {
		z = l.Add(z, l.Unsqueeze(l.Linear("text_proj", text, c, true), 1, 2)) // [B,1,1,C]
	}
	seq := l.ReshapeTo(z, l.Concat(0, l.ConstInts(-1), frames, l.ConstInts(c))) // [B·HW,F,C]
	a := l.Attention("attn", seq, nil, heads, c/heads)
	a = l.zeroLinear("proj_out", a, c)
	out := l.Add(t, l.ReshapeLike(a, t))
	return l.ReshapeLike(l.Transpose(out, 0, 2, 3, 1), h) // [B,F,C,HW] → [B·F,C,H,W]
}

// zeroLinear is Linear with weight and bias starting at zero: the last
// layer of a block that must start as the identity of its residual.
func (l *Layers) zeroLinear(name string, x *Value, out int64) *Value {
	defer l.Scope(name)()
	in := l.lastDim("Linear", x)
	w := l.constParam("weight", 0, out, in)
	return l.Add(l.MatMul(x, l.Transpose(w, 1, 0)), l.constParam("bias", 0, out))
}

// NewUNetMotionGraph returns a builder holding the motion UNet with the
// input and output names of an AnimateDiff UNet export: sample
// [batch_size,C,num_frames,height,width] float32 (static height and width
// with cfg.PositionEmbedding), timestep (a float32 scalar),
// encoder_hidden_states [batch_size,sequence_length,D] → out_sample.
func NewUNetMotionGraph(cfg UNetConfig, m MotionConfig, seed uint64) *Builder {
	b := NewBuilder("unet_motion")
	l := NewLayers(b, seed)
	height, width := Sym("height"), Sym("width")
	if cfg.PositionEmbedding {
		height, width = D(cfg.SampleSize), D(cfg.SampleSize)
	}
	in := UNetInputs{
		Sample:              b.Input("sample", Float32, Sym("batch_size"), D(cfg.InChannels), Sym("num_frames"), height, width),
		Timestep:            b.Input("timestep", Float32),
		EncoderHiddenStates: b.Input("encoder_hidden_states", Float32, Sym("batch_size"), Sym("sequence_length"), D(cfg.CrossAttentionDim)),
	}
	out := l.UNetMotionModel(cfg, m, in)
	b.OutputAs("out_sample", out, Sym("batch_size"), D(cfg.OutChannels), Sym("num_frames"), height, width)
	return b
}
