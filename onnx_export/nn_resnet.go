package onnxexport

import (
	"math"
	"strconv"
)

// Convolutional blocks with diffusers semantics: the sinusoidal timestep
// embedding, ResnetBlock2D, Downsample2D and Upsample2D.

func itoa(i int) string { return strconv.Itoa(i) }

// TimestepProjection is diffusers' get_timestep_embedding on t [B] (float):
// with half = dim/2 and freq_i = exp(-ln(10000) * i / (half - shift)), it
// returns [sin(t·freq), cos(t·freq)] ([cos, sin] when flipSinToCos).
func (l *Layers) TimestepProjection(t *Value, dim int64, flipSinToCos bool, shift float64) *Value {
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	if dim < 2 || dim%2 != 0 {
		l.failf("TimestepProjection", ErrArgument, "embedding dimension %d must be even and >= 2", dim)
		return l.placeholder(l.DType)
	}
	half := dim / 2
	if float64(half)-shift == 0 {
		l.failf("TimestepProjection", ErrArgument, "downscale_freq_shift %v equals half the dimension", shift)
		return l.placeholder(l.DType)
	}
	freqs := l.newTensor([]int64{1, half}, func() float64 { return 0 })
	for i := range half {
		f := math.Exp(-math.Log(10000) * float64(i) / (float64(half) - shift))
		if freqs.DType == Float64 {
			freqs.Float64[i] = f
		} else {
			freqs.Float32[i] = float32(f)
		}
	}
	if t.dtype != l.DType {
		t = l.Cast(t, l.DType)
	}
	args := l.Mul(l.Unsqueeze(t, 1), l.Const(freqs))
	sin, cos := l.Sin(args), l.Cos(args)
	if flipSinToCos {
		return l.Concat(-1, cos, sin)
	}
	return l.Concat(-1, sin, cos)
}

// TimestepEmbedding is diffusers' TimestepEmbedding MLP: linear_1, SiLU,
// linear_2.
func (l *Layers) TimestepEmbedding(name string, x *Value, dim int64) *Value {
	defer l.Scope(name)()
	return l.Linear("linear_2", l.SiLU(l.Linear("linear_1", x, dim, true)), dim, true)
}

// ResnetOptions configure ResnetBlock2D.
type ResnetOptions struct {
	Out         int64   // output channels
	Groups      int64   // GroupNorm groups
	Eps         float64 // GroupNorm epsilon
	OutputScale float64 // output_scale_factor; 0 means 1
}

// ResnetBlock2D is diffusers' ResnetBlock2D: GroupNorm, SiLU, conv1, plus
// time_emb_proj(SiLU(temb)) per channel when temb is not nil, GroupNorm,
// SiLU, conv2, and a 1x1 conv_shortcut when channels change; the sum is
// divided by the output scale.
func (l *Layers) ResnetBlock2D(name string, x, temb *Value, opt ResnetOptions) *Value {
	defer l.Scope(name)()
	if l.err != nil {
		return l.placeholder(l.DType)
	}
	in := l.channels("ResnetBlock2D", x)
	same := Conv2dOptions{Padding: 1}
	h := l.Conv2d("conv1", l.SiLU(l.GroupNorm("norm1", x, opt.Groups, opt.Eps)), opt.Out, 3, same)
	if temb != nil {
		t := l.Linear("time_emb_proj", l.SiLU(temb), opt.Out, true)
		h = l.Add(h, l.Unsqueeze(t, 2, 3))
	}
	h = l.Conv2d("conv2", l.SiLU(l.GroupNorm("norm2", h, opt.Groups, opt.Eps)), opt.Out, 3, same)
	skip := x
	if in != opt.Out {
		skip = l.Conv2d("conv_shortcut", x, opt.Out, 1, Conv2dOptions{})
	}
	out := l.Add(skip, h)
	if opt.OutputScale != 0 && opt.OutputScale != 1 {
		out = l.Div(out, l.scalar(opt.OutputScale))
	}
	return out
}

// Downsample2D is diffusers' Downsample2D with a convolution: a 3x3
// stride-2 conv named "conv". padding 1 is the UNet's; padding 0 means the
// VAE encoder's asymmetric (0,1,0,1) padding.
func (l *Layers) Downsample2D(name string, x *Value, padding int64) *Value {
	defer l.Scope(name)()
	c := l.channels("Downsample2D", x)
	opt := Conv2dOptions{Stride: 2, Padding: padding}
	if padding == 0 {
		opt.Pads = []int64{0, 0, 1, 1}
	}
	return l.Conv2d("conv", x, c, 3, opt)
}

// Upsample2D is diffusers' Upsample2D: nearest 2x upsampling, then a 3x3
// conv named "conv".
func (l *Layers) Upsample2D(name string, x *Value) *Value {
	defer l.Scope(name)()
	c := l.channels("Upsample2D", x)
	return l.Conv2d("conv", l.UpsampleNearest(x, 2), c, 3, Conv2dOptions{Padding: 1})
}
