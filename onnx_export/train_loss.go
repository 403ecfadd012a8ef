package onnxexport

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
	one := b.ScalarLike(mean, 1)
	terms := b.Sub(b.Sub(b.Add(b.Mul(mean, mean), b.Exp(logvar)), one), logvar)
	if mean.Rank() < 1 {
		return b.Mul(b.ScalarLike(mean, 0.5), terms)
	}
	var axes []int64
	for i := 1; i < mean.Rank(); i++ {
		axes = append(axes, int64(i))
	}
	perExample := terms
	if len(axes) > 0 {
		perExample = b.ReduceSum(terms, false, axes...)
	}
	return b.Mul(b.ScalarLike(mean, 0.5), b.ReduceMean(perExample, false))
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
