package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// imageSize is the side of the pictures; pixels is D, the dimension count
// of one picture, that bits/dim divide by.
const (
	imageSize = 32
	pixels    = 3 * imageSize * imageSize
)

// config is the network's shape.
type config struct {
	// Latent is Z, the length of the latent vector.
	Latent int64
	// Width is the channel count at 32x32 and 16x16; 8x8 and 4x4 have
	// twice and four times as many.
	Width int64
	// Hidden is the width of the linear layers at the bottleneck.
	Hidden int64
	// CondMap8 and CondMap16 are the channels of the maps a linear layer
	// makes from the condition at 8x8 and 16x16 in the decoder: a grid
	// cell is a set of pixels there, which such a map can mark directly.
	CondMap8, CondMap16 int64
	// PositionMaps adds a learned map [1,C,H,W] to the decoder's features
	// after each upsampling (a position embedding, as CoordConv's
	// coordinate channels): with it a layer can tell one pixel from
	// another, which convolutions alone cannot.
	PositionMaps bool
	// SpatialChannels, when > 0, makes the latent a [SpatialChannels,4,4]
	// map instead of a vector of Latent values: the encoder's 4x4
	// features go to the latent by a conv, and the decoder starts from the
	// latent by a conv, with no linear layer between pixels and latent.
	SpatialChannels int64
	// LatentMaps gives the latent vector the condition's ways into the
	// decoder too: linear maps from z added to the condition's 8x8 and
	// 16x16 maps, and a per-channel shift from z in every conv layer. A
	// latent that enters through one linear layer at the bottom only was
	// left unused (the decoder drew the condition's average picture).
	LatentMaps bool
}

// latentDims are the dimensions of one example's latent: [Z], or
// [C,4,4] for a spatial latent.
func (c config) latentDims() []int64 {
	if c.SpatialChannels > 0 {
		return []int64{c.SpatialChannels, 4, 4}
	}
	return []int64{c.Latent}
}

// latentSize is the number of values of one example's latent.
func (c config) latentSize() int64 {
	n := int64(1)
	for _, d := range c.latentDims() {
		n *= d
	}
	return n
}

// defaultConfig is the shipped architecture.
func defaultConfig(latent int64) config {
	return config{Latent: latent, Width: 32, Hidden: 256, CondMap8: 16, CondMap16: 8}
}

// normGroups is the GroupNorm group count of every conv layer.
const normGroups = 8

// logStdScale multiplies the decoder's log σ parameter: Adam moves a
// parameter by about the learning rate per step, and log σ has to travel
// from about −2 to −4 or lower, which at 1e-3 a step would take thousands
// of steps.
const logStdScale = 5

// convAct is Conv2d (3x3, padding 1, the given stride), GroupNorm, SiLU.
func convAct(l *onnxexport.Layers, name string, x *onnxexport.Value, out, stride int64) *onnxexport.Value {
	return condConvAct(l, name, x, nil, out, stride)
}

// condConvAct is convAct with, when c is set, a per-channel shift made
// from the condition by a linear layer added after the norm: every
// decoder layer reads the prompt's attributes directly, so taking the
// color or the kind from the condition is easier for the decoder than
// taking it from the latent (which the KL charges for).
func condConvAct(l *onnxexport.Layers, name string, x, c *onnxexport.Value, out, stride int64) *onnxexport.Value {
	return latentConvAct(l, name, x, c, nil, out, stride)
}

// latentConvAct is condConvAct with, when z is set, a second shift made
// from the latent z.
func latentConvAct(l *onnxexport.Layers, name string, x, c, z *onnxexport.Value, out, stride int64) *onnxexport.Value {
	h := l.Conv2d(name, x, out, 3, onnxexport.Conv2dOptions{Stride: stride, Padding: 1})
	h = l.GroupNorm(name+"_norm", h, normGroups, 1e-5)
	if c != nil {
		h = l.Add(h, l.Unsqueeze(l.Linear(name+"_cond", c, out, true), 2, 3))
	}
	if z != nil {
		h = l.Add(h, l.Unsqueeze(l.Linear(name+"_latent", z, out, false), 2, 3))
	}
	return l.SiLU(h)
}

// encoder maps a picture x [B,3,32,32] and its condition c [B,70] to the
// mean and log-variance [B,Z] of q(z | x, c): four convs down to 4x4,
// then two linear layers on the flattened features and the condition.
func encoder(l *onnxexport.Layers, cfg config, x, c *onnxexport.Value) (mean, logvar *onnxexport.Value) {
	defer l.Scope("encoder")()
	w := cfg.Width
	h := convAct(l, "conv_in", x, w, 1) // 32x32
	h = convAct(l, "down1", h, w, 2)    // 16x16
	h = convAct(l, "down2", h, 2*w, 2)  // 8x8
	if cfg.SpatialChannels > 0 {
		h = condConvAct(l, "conv8", h, c, 2*w, 1)
		h = condConvAct(l, "down3", h, c, 4*w, 2)
		out := l.Conv2d("conv_out", h, 2*cfg.SpatialChannels, 3, onnxexport.Conv2dOptions{Padding: 1})
		parts := l.Split(out, 1, cfg.SpatialChannels, cfg.SpatialChannels)
		return parts[0], parts[1]
	}
	h = convAct(l, "conv8", h, 2*w, 1) // 8x8
	h = convAct(l, "down3", h, 4*w, 2) // 4x4
	h = l.Reshape(h, -1, 4*w*16)       // [B, 4w·16]
	h = l.SiLU(l.Linear("fc", l.Concat(1, h, c), cfg.Hidden, true))
	out := l.Linear("fc_out", h, 2*cfg.Latent, true)
	parts := l.Split(out, 1, cfg.Latent, cfg.Latent)
	return parts[0], parts[1]
}

// decoder maps a latent z [B,Z] and a condition c [B,70] to the mean
// [B,3,32,32] of p(x | z, c): two linear layers to a 4x4 map, then
// nearest upsampling and convs to 32x32, with maps made from the condition
// joined at 8x8 and 16x16 and a shift made from it in every conv layer.
func decoder(l *onnxexport.Layers, cfg config, z, c *onnxexport.Value) *onnxexport.Value {
	defer l.Scope("decoder")()
	w := cfg.Width
	var h *onnxexport.Value
	if cfg.SpatialChannels > 0 {
		h = condConvAct(l, "conv_in", z, c, 4*w, 1)
	} else {
		h = l.SiLU(l.Linear("fc", l.Concat(1, z, c), cfg.Hidden, true))
		h = l.Reshape(l.Linear("fc_map", h, 4*w*16, true), -1, 4*w, 4, 4)
		h = l.SiLU(l.GroupNorm("fc_map_norm", h, normGroups, 1e-5))
	}
	var zs *onnxexport.Value // the latent's shifts, with LatentMaps
	if cfg.LatentMaps {
		zs = z
	}
	h = latentConvAct(l, "conv4", h, c, zs, 4*w, 1)
	h = positionMap(l, cfg, "pos8", l.Concat(1, l.UpsampleNearest(h, 2), inputMap(l, cfg, "8", c, zs, cfg.CondMap8, 8)))
	h = latentConvAct(l, "up8a", h, c, zs, 2*w, 1)
	h = latentConvAct(l, "up8b", h, c, zs, 2*w, 1)
	h = positionMap(l, cfg, "pos16", l.Concat(1, l.UpsampleNearest(h, 2), inputMap(l, cfg, "16", c, zs, cfg.CondMap16, 16)))
	h = latentConvAct(l, "up16a", h, c, zs, w, 1)
	h = latentConvAct(l, "up16b", h, c, zs, w, 1)
	h = latentConvAct(l, "up32", positionMap(l, cfg, "pos32", l.UpsampleNearest(h, 2)), c, zs, w, 1)
	return l.Conv2d("conv_out", h, 3, 3, onnxexport.Conv2dOptions{Padding: 1})
}

// inputMap is the map [B,channels,side,side] a linear layer makes from
// the condition c ("cond"+suffix), plus, when z is set, one made from the
// latent ("latent"+suffix).
func inputMap(l *onnxexport.Layers, cfg config, suffix string, c, z *onnxexport.Value, channels, side int64) *onnxexport.Value {
	m := l.Linear("cond"+suffix, c, channels*side*side, true)
	if z != nil {
		m = l.Add(m, l.Linear("latent"+suffix, z, channels*side*side, false))
	}
	return l.Reshape(m, -1, channels, side, side)
}

// positionMap adds the learned position map called name to h
// [B,C,H,W] when cfg.PositionMaps is set.
func positionMap(l *onnxexport.Layers, cfg config, name string, h *onnxexport.Value) *onnxexport.Value {
	if !cfg.PositionMaps {
		return h
	}
	sh := h.Shape()
	dims := []int64{1, sh[1].Size, sh[2].Size, sh[3].Size}
	return l.Add(h, l.Param(name, onnxexport.NewFloat32(dims, make([]float32, dims[1]*dims[2]*dims[3]))))
}

// decoderLogStd is the decoder's learned per-channel log σ [3,1,1] (the
// parameter "decoder.log_std" times logStdScale).
func decoderLogStd(l *onnxexport.Layers) *onnxexport.Value {
	defer l.Scope("decoder")()
	p := l.Param("log_std", onnxexport.NewFloat32([]int64{3, 1, 1}, []float32{initLogStd / logStdScale, initLogStd / logStdScale, initLogStd / logStdScale}))
	return l.Mul(p, l.ScalarLike(p, logStdScale))
}

// initLogStd is log σ at the start: σ ≈ 0.14 in [-1, 1] units.
const initLogStd = -2

// lossOptions are the parts of the training objective that are not the
// network.
type lossOptions struct {
	// FreeBits, when > 0, is λ of free bits (Kingma et al. 2016, "Improved
	// variational inference with inverse autoregressive flow"): each
	// latent dimension's KL, averaged over the batch, counts as at least
	// λ nats, so the optimizer gains nothing by pushing it below.
	FreeBits float64
}

// trainLoss builds the training loss on a batch: inputs image [B,3,32,32]
// (dequantized, in [-1, 1]), condition [B,70], eps [B,Z] (standard
// normal) and kl_weight [B] (β of the KL warm-up, the same for the whole
// batch). The loss is the negative ELBO per dimension, in nats:
//
//	(mean_b Σ_pixels NLL(x | μ(z, c), σ) + β·Σ_d KL_d) / D,  z = m + e^(lv/2)·eps
//
// with KL_d the batch mean of dimension d's KL (at least FreeBits each).
// At β = 1 and no free bits, loss/ln 2 + 7 is the ELBO's bits/dim.
func trainLoss(cfg config, opt lossOptions, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("cvae")
	l := onnxexport.NewLayers(b, seed)
	x := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	c := b.Input("condition", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	eps := b.Input("eps", onnxexport.Float32, latentInputDims(onnxexport.D(batch), cfg)...)
	beta := b.Input("kl_weight", onnxexport.Float32, onnxexport.D(batch))
	mean, logvar := encoder(l, cfg, x, c)
	logvar = b.Max(b.Min(logvar, b.ScalarLike(logvar, 10)), b.ScalarLike(logvar, -20))
	z := b.Add(mean, b.Mul(b.Exp(b.Mul(logvar, b.ScalarLike(logvar, 0.5))), eps))
	mu := decoder(l, cfg, z, c)
	logStd := decoderLogStd(l)
	nll := b.ReduceMean(b.ReduceSum(b.GaussianNLL(x, mu, logStd), false, 1, 2, 3), false)
	klPerDim := b.ReduceMean(b.GaussianKL(mean, logvar), false, 0) // [Z] or [C,4,4]
	if opt.FreeBits > 0 {
		klPerDim = b.Max(klPerDim, b.ScalarLike(klPerDim, opt.FreeBits))
	}
	kl := b.Mul(b.ReduceMean(beta, false), b.ReduceSum(klPerDim, false))
	return b, b.Mul(b.Add(nll, kl), b.ScalarLike(nll, 1.0/pixels))
}

// Names of the exported graphs' inputs and outputs (the contract the
// pipeline reads).
const (
	inLatent, inCondition, inSample = "latent", "condition", "sample"
	outSample, outMean, outLogvar   = "sample", "mean", "logvar"
)

// encoderGraph is the exported encoder: sample [batch,3,32,32] in
// [-1, 1] and condition [batch,70] → mean and logvar [batch,Z].
func encoderGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("cvae_encoder")
	l := onnxexport.NewLayers(b, 0)
	batch := onnxexport.Sym("batch")
	x := b.Input(inSample, onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(shapes.ConditionSize))
	mean, logvar := encoder(l, cfg, x, c)
	logvar = b.Max(b.Min(logvar, b.ScalarLike(logvar, 10)), b.ScalarLike(logvar, -20))
	b.OutputAs(outMean, mean, latentInputDims(batch, cfg)...)
	b.OutputAs(outLogvar, logvar, latentInputDims(batch, cfg)...)
	return b
}

// decoderGraph is the exported decoder: latent [batch,Z] and condition
// [batch,70] → sample [batch,3,32,32], the Gaussian mean in [-1, 1] units.
func decoderGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("cvae_decoder")
	l := onnxexport.NewLayers(b, 0)
	batch := onnxexport.Sym("batch")
	z := b.Input(inLatent, onnxexport.Float32, latentInputDims(batch, cfg)...)
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(shapes.ConditionSize))
	b.OutputAs(outSample, decoder(l, cfg, z, c), batch, onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	return b
}

// latentInputDims are the dimensions of a batch of latents.
func latentInputDims(batch onnxexport.Dim, cfg config) []onnxexport.Dim {
	dims := []onnxexport.Dim{batch}
	for _, d := range cfg.latentDims() {
		dims = append(dims, onnxexport.D(d))
	}
	return dims
}
