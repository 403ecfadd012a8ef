package onnxexport

import "math"

// Loss functions for training graphs, built from differentiable primitive
// ops. Each returns a scalar (rank-0) value averaged like its PyTorch
// namesake with reduction="mean".

// MSELoss returns mean((pred - target)²), the denoiser loss.
func (b *Builder) MSELoss(pred, target *Value) *Value {
	d := b.Sub(pred, target)
	return b.ReduceMean(b.Mul(d, d), false)
}

// L1Loss returns mean(|pred - target|), the VAE reconstruction loss.
func (b *Builder) L1Loss(pred, target *Value) *Value {
	return b.ReduceMean(b.Abs(b.Sub(pred, target)), false)
}

// GaussianKLLoss returns the KL divergence of the diagonal Gaussians
// N(mean, exp(logvar)) from N(0, 1), summed over all but the first (batch)
// axis and averaged over the batch, as diffusers' DiagonalGaussian
// Distribution.kl() followed by a batch mean.
func (b *Builder) GaussianKLLoss(mean, logvar *Value) *Value {
	terms := b.GaussianKL(mean, logvar)
	if mean.Rank() < 1 {
		return terms
	}
	var axes []int64
	for i := 1; i < mean.Rank(); i++ {
		axes = append(axes, int64(i))
	}
	perExample := terms
	if len(axes) > 0 {
		perExample = b.ReduceSum(terms, false, axes...)
	}
	return b.ReduceMean(perExample, false)
}

// GaussianKL returns, element by element, the KL divergence
// ½(mean² + exp(logvar) − 1 − logvar) of N(mean, exp(logvar)) from
// N(0, 1), in nats: the per-dimension terms a VAE's loss sums (and that
// free bits or a collapse monitor look at one by one).
func (b *Builder) GaussianKL(mean, logvar *Value) *Value {
	one := b.ScalarLike(mean, 1)
	terms := b.Sub(b.Sub(b.Add(b.Mul(mean, mean), b.Exp(logvar)), one), logvar)
	return b.Mul(b.ScalarLike(mean, 0.5), terms)
}

// GaussianNLL returns, element by element, the negative log-density in
// nats of x under N(mean, exp(logStd)²):
// ½((x − mean)/σ)² + log σ + ½ log 2π. logStd broadcasts against x (a
// VAE decoder's learned per-channel log σ has shape [C,1,1]).
func (b *Builder) GaussianNLL(x, mean, logStd *Value) *Value {
	z := b.Mul(b.Sub(x, mean), b.Exp(b.Neg(logStd)))
	half := b.Mul(b.ScalarLike(z, 0.5), b.Mul(z, z))
	return b.Add(b.Add(half, logStd), b.ScalarLike(z, 0.5*math.Log(2*math.Pi)))
}

// CrossEntropyLoss returns the mean negative log-likelihood of int64
// labels [N] under logits [N, C] (torch.nn.functional.cross_entropy).
func (b *Builder) CrossEntropyLoss(logits, labels *Value) *Value {
	if !b.check("CrossEntropyLoss", logits, labels) {
		return b.placeholder(Float32)
	}
	if logits.Rank() != 2 || labels.Rank() != 1 || !logits.shape[1].Known() {
		b.failf("CrossEntropyLoss", ErrShape, "logits %v and labels %v: want [N,C] with static C and [N]", logits.shape, labels.shape)
		return b.placeholder(logits.dtype)
	}
	if labels.dtype != Int64 {
		b.failf("CrossEntropyLoss", ErrType, "labels are %v, want int64", labels.dtype)
		return b.placeholder(logits.dtype)
	}
	logp := b.Op("LogSoftmax", []*Value{logits}, []Attr{IntAttr("axis", 1)}, ValueType{logits.dtype, logits.shape.clone()})[0]
	oneHot := b.Op("OneHot", []*Value{labels, b.ConstInts(logits.shape[1].Size), b.Cast(b.ConstInts(0, 1), logits.dtype)},
		[]Attr{IntAttr("axis", -1)}, ValueType{logits.dtype, logits.shape.clone()})[0]
	picked := b.ReduceSum(b.Mul(logp, oneHot), false, 1)
	return b.Neg(b.ReduceMean(picked, false))
}
