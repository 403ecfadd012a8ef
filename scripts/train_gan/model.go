package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// imageSize is the side of the pictures; pixels the values of one.
const (
	imageSize = 32
	pixels    = 3 * imageSize * imageSize
)

// config is the networks' shape.
type config struct {
	// Latent is the length of the noise vector z.
	Latent int64
	// GenWidth is the generator's channel count at 16x16 and 32x32 (twice
	// at 8x8, four times at 4x4); DiscWidth the discriminator's at 32x32
	// (doubling at each stride-2 conv up to four times).
	GenWidth, DiscWidth int64
	// Hidden is the width of the discriminator's last linear layer, the
	// features the condition's embedding is projected on.
	Hidden int64
	// CondMap8 and CondMap16 are the channels of the maps a linear layer
	// makes from the condition (and z) at 8x8 and 16x16 in the generator:
	// a grid cell is a set of pixels there, which such a map marks
	// directly.
	CondMap8, CondMap16 int64
	// R1 is γ of the R1 penalty γ/2·E‖∇_x D(x)‖² on real pictures (0: none).
	R1 float64
	// Aux, when > 0, adds an auxiliary classifier to the discriminator
	// (AC-GAN, Odena et al. 2017, beside the projection): a head that
	// predicts each attribute of a picture, trained on real pictures with
	// their scenes' full attributes, and the generator is charged Aux
	// times its cross-entropy on the attributes its condition says.
	Aux float64
}

func defaultConfig() config {
	return config{Latent: 64, GenWidth: 32, DiscWidth: 32, Hidden: 256, CondMap8: 16, CondMap16: 8, R1: 1, Aux: 1}
}

// normGroups is the GroupNorm group count of the generator's conv layers.
const normGroups = 8

// leak is the slope of LeakyRelu below zero, in both networks.
const leak = 0.2

// genConv is a generator layer: a 3x3 conv, GroupNorm, a per-channel
// shift made from [z, c] by a linear layer (every layer reads the prompt,
// as the VAE's decoder does), LeakyRelu.
func genConv(l *onnxexport.Layers, name string, x, zc *onnxexport.Value, out int64) *onnxexport.Value {
	h := l.Conv2d(name, x, out, 3, onnxexport.Conv2dOptions{Padding: 1})
	h = l.GroupNorm(name+"_norm", h, normGroups, 1e-5)
	h = l.Add(h, l.Unsqueeze(l.Linear(name+"_cond", zc, out, true), 2, 3))
	return l.LeakyRelu(h, leak)
}

// condMap is a [B,ch,s,s] map made from [z, c] by a linear layer, joined
// to the features x at side s.
func condMap(l *onnxexport.Layers, name string, x, zc *onnxexport.Value, ch, s int64) *onnxexport.Value {
	m := l.Reshape(l.Linear(name, zc, ch*s*s, true), -1, ch, s, s)
	return l.Concat(1, x, m)
}

// positionMap adds a learned [1,C,s,s] map to x: with it a conv can tell
// one pixel from another.
func positionMap(l *onnxexport.Layers, name string, x *onnxexport.Value, ch, s int64) *onnxexport.Value {
	p := l.Param(name, onnxexport.NewFloat32([]int64{1, ch, s, s}, make([]float32, ch*s*s)))
	return l.Add(x, p)
}

// generator maps noise z [B,Z] and a condition c [B,70] to a picture
// [B,3,32,32] in [-1, 1]: a linear layer to a 4x4 map, then nearest
// upsampling and convs to 32x32.
func generator(l *onnxexport.Layers, cfg config, z, c *onnxexport.Value) *onnxexport.Value {
	defer l.Scope("generator")()
	w := cfg.GenWidth
	zc := l.Concat(1, z, c)
	h := l.LeakyRelu(l.Linear("fc", zc, 256, true), leak)
	h = l.Reshape(l.Linear("fc_map", h, 4*w*16, true), -1, 4*w, 4, 4)
	h = genConv(l, "conv4", h, zc, 4*w)
	h = l.UpsampleNearest(h, 2) // 8x8
	h = positionMap(l, "pos8", h, 4*w, 8)
	h = condMap(l, "map8", h, zc, cfg.CondMap8, 8)
	h = genConv(l, "conv8a", h, zc, 2*w)
	h = genConv(l, "conv8b", h, zc, 2*w)
	h = l.UpsampleNearest(h, 2) // 16x16
	h = positionMap(l, "pos16", h, 2*w, 16)
	h = condMap(l, "map16", h, zc, cfg.CondMap16, 16)
	h = genConv(l, "conv16a", h, zc, w)
	h = genConv(l, "conv16b", h, zc, w)
	h = l.UpsampleNearest(h, 2) // 32x32
	h = genConv(l, "conv32", h, zc, w)
	return l.Tanh(l.Conv2d("conv_out", h, 3, 3, onnxexport.Conv2dOptions{Padding: 1}))
}

// discriminator maps a picture x [B,3,32,32] and its condition c [B,70]
// to a logit [B,1] and, when cfg.Aux > 0, the attribute logits [B,70]
// (nil otherwise): stride-2 convs with LeakyRelu and no normalization
// (the R1 penalty keeps it smooth) down to 4x4, a linear layer on the
// flattened map, and the projection of the condition's embedding on
// those features (Miyato & Koyama 2018) added to an unconditional head.
func discriminator(l *onnxexport.Layers, cfg config, x, c *onnxexport.Value) (logit, attrs *onnxexport.Value) {
	defer l.Scope("discriminator")()
	w := cfg.DiscWidth
	conv := func(name string, h *onnxexport.Value, out, stride int64) *onnxexport.Value {
		return l.LeakyRelu(l.Conv2d(name, h, out, 3, onnxexport.Conv2dOptions{Stride: stride, Padding: 1}), leak)
	}
	h := conv("conv32", x, w, 1)
	h = conv("down16", h, 2*w, 2)
	h = conv("down8", h, 4*w, 2)
	h = conv("down4", h, 4*w, 2)
	h = l.Reshape(h, -1, 4*w*16)
	h = l.LeakyRelu(l.Linear("fc", h, cfg.Hidden, true), leak)
	out := l.Linear("head", h, 1, true)
	embed := l.Linear("embed", c, cfg.Hidden, false)
	if cfg.Aux > 0 {
		attrs = l.Linear("aux", h, shapes.ConditionSize, true)
	}
	return l.Add(out, l.ReduceSum(l.Mul(embed, h), true, 1)), attrs
}

// attributeLoss is the auxiliary classifier's cross-entropy per example
// [B]: for each attribute block of shapes.AttributeClasses, −log softmax
// of the target class, where the target t [B,70] is one-hot per block.
// With onlySaid, a block whose target is class 0 ("not said") counts
// nothing (a condition leaves those attributes free).
func attributeLoss(l *onnxexport.Layers, logits, t *onnxexport.Value, onlySaid bool) *onnxexport.Value {
	sizes := make([]int64, len(shapes.AttributeClasses))
	for i, n := range shapes.AttributeClasses {
		sizes[i] = int64(n)
	}
	ls, ts := l.Split(logits, 1, sizes...), l.Split(t, 1, sizes...)
	var total *onnxexport.Value
	for i := range ls {
		logp := l.Op("LogSoftmax", []*onnxexport.Value{ls[i]}, []onnxexport.Attr{onnxexport.IntAttr("axis", 1)},
			onnxexport.ValueType{DType: ls[i].DType(), Shape: ls[i].Shape()})[0]
		ce := l.Neg(l.ReduceSum(l.Mul(logp, ts[i]), false, 1)) // [B]
		if onlySaid {
			said := l.Sub(l.ScalarLike(ce, 1), l.Reshape(l.Slice(ts[i], []int64{0}, []int64{1}, []int64{1}, nil), -1))
			ce = l.Mul(ce, said)
		}
		if total == nil {
			total = ce
		} else {
			total = l.Add(total, ce)
		}
	}
	return total
}

// softplus is log(1 + eˣ) written from ops that have gradient rules and do
// not overflow: max(x, 0) + log(1 + e^{-|x|}).
func softplus(l *onnxexport.Layers, x *onnxexport.Value) *onnxexport.Value {
	t := l.Log(l.Add(l.Exp(l.Neg(l.Abs(x))), l.ScalarLike(x, 1)))
	return l.Add(l.Relu(x), t)
}

// Graph input names. Both training graphs and the exported generator
// share them.
const (
	inputReal      = "real"
	inputLabels    = "labels" // the real pictures' full attributes, one-hot (with -aux)
	inputNoise     = "z"
	inputCondition = "condition"
	outputSample   = "sample"
)

// newLayers returns a builder's Layers with the weights' seed.
func newLayers(name string, seed uint64) (*onnxexport.Builder, *onnxexport.Layers) {
	b := onnxexport.NewBuilder(name)
	return b, onnxexport.NewLayers(b, seed)
}

// discLoss builds the discriminator's training step loss on a batch:
// the non-saturating logistic loss softplus(−D(x, c)) + softplus(D(G(z, c), c))
// plus γ/2·‖∇_x D(x, c)‖² on the real pictures (R1, Mescheder et al.
// 2018), with the generator frozen (its parameters returned as host
// values). Also outputs "d_real" and "d_fake", the batch-mean logits, and
// "r1", the batch-mean squared gradient norm.
func discLoss(cfg config, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value, []*onnxexport.Value) {
	b, l := newLayers("gan_disc_step", seed)
	x := b.Input(inputReal, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	// The batch inputs in the order the dataset fills them.
	var labels *onnxexport.Value
	if cfg.Aux > 0 {
		labels = b.Input(inputLabels, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	}
	c := b.Input(inputCondition, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	z := b.Input(inputNoise, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Latent))
	fake := b.StopGradient(generator(l, cfg, z, c))
	frozen := paramValues(b, "generator.")
	// One pass over real and fake pictures together: the weights are
	// used once, and the batch is twice as large.
	logits, attrs := discriminator(l, cfg, l.Concat(0, x, fake), l.Concat(0, c, c))
	parts := l.Split(logits, 0, batch, batch)
	real, fakeLogit := parts[0], parts[1]
	loss := l.ReduceMean(l.Add(softplus(l, l.Neg(real)), softplus(l, fakeLogit)), false)
	aux := l.ScalarLike(loss, 0)
	if cfg.Aux > 0 {
		// The classifier learns from real pictures only, so that it
		// cannot side with the generator.
		aux = l.ReduceMean(attributeLoss(l, l.Split(attrs, 0, batch, batch)[0], labels, false), false)
		loss = l.Add(loss, aux)
	}
	b.Output("aux", l.Reshape(aux, 1))
	r1 := l.ScalarLike(loss, 0)
	if cfg.R1 > 0 {
		gx, err := b.Gradients(l.ReduceSum(real, false), []*onnxexport.Value{x})
		if err != nil {
			b.Fail("R1", err)
			return b, loss, frozen
		}
		r1 = l.ReduceMean(l.ReduceSum(l.Mul(gx[0], gx[0]), false, 1, 2, 3), false)
		loss = l.Add(loss, l.Mul(r1, l.ScalarLike(r1, cfg.R1/2)))
	}
	b.Output("d_real", l.Reshape(l.ReduceMean(real, false), 1))
	b.Output("d_fake", l.Reshape(l.ReduceMean(fakeLogit, false), 1))
	b.Output("r1", l.Reshape(r1, 1))
	return b, loss, frozen
}

// genLoss builds the generator's training step loss: softplus(−D(G(z, c), c)),
// the non-saturating loss, with the discriminator frozen.
func genLoss(cfg config, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value, []*onnxexport.Value) {
	b, l := newLayers("gan_gen_step", seed)
	c := b.Input(inputCondition, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	z := b.Input(inputNoise, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Latent))
	fake := generator(l, cfg, z, c)
	logit, attrs := discriminator(l, cfg, fake, c)
	frozen := paramValues(b, "discriminator.")
	loss := l.ReduceMean(softplus(l, l.Neg(logit)), false)
	if cfg.Aux > 0 {
		aux := l.ReduceMean(attributeLoss(l, attrs, c, true), false)
		loss = l.Add(loss, l.Mul(aux, l.ScalarLike(aux, cfg.Aux)))
	}
	return b, loss, frozen
}

// generatorGraph is the exported generator: "z" [batch, Z] and
// "condition" [batch, 70] to "sample" [batch, 3, 32, 32] in [-1, 1].
func generatorGraph(cfg config) *onnxexport.Builder {
	b, l := newLayers("generator", 1)
	z := b.Input(inputNoise, onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(cfg.Latent))
	c := b.Input(inputCondition, onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(shapes.ConditionSize))
	b.Output(outputSample, generator(l, cfg, z, c))
	return b
}

// paramValues returns the values of b's parameters whose names start
// with prefix.
func paramValues(b *onnxexport.Builder, prefix string) []*onnxexport.Value {
	var out []*onnxexport.Value
	for _, p := range b.Params() {
		if len(p.Name) >= len(prefix) && p.Name[:len(prefix)] == prefix {
			out = append(out, p.Value)
		}
	}
	return out
}
