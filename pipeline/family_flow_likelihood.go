package pipeline

import (
	"context"
	"image"
	"math"

	"github.com/imagegen/imagegen/rng"
)

// flowBinWidth is the width of an 8-bit value's bin in the flow's data
// space: v ∈ {0, …, 255} stands for [v/128 − 1, (v+1)/128 − 1), the
// convention the flow was trained on (and builtin:vae's training-script
// bounds use).
const flowBinWidth = 2.0 / 256

// likelihood returns the flow's bits/dim of the pictures' 8-bit values
// by uniform dequantization (Theis et al. 2016): with x = (v + u)/128 − 1,
// u ~ U[0, 1)^D, P(v) = E_u[p(x)]·(2/256)^D, so for k draws of u
//
//	−log₂ P(v)/D ≤ −log₂ mean_k p(x_k)/D + 7 ≤ −mean_k log₂ p(x_k)/D + 7
//
// (the second by Jensen's inequality). log p(x | c) is exact:
// Σ log N(ε; 0, 1) + logdet from the forward flow. IWAEBitsPerDim is the
// first bound, ELBOBitsPerDim the second, KL is 0.
func (p *flowPipeline) likelihood(ctx context.Context, q LikelihoodRequest) (*LikelihoodResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if err := q.validate(); err != nil {
		return nil, err
	}
	if err := p.openEncoder(); err != nil {
		return nil, err
	}
	k, dims := q.Samples, p.cfg.LatentDim
	gen := rng.New(q.Seed)
	res := &LikelihoodResult{Samples: k, Images: len(q.Images)}
	xk := make([]float32, k*dims)
	u := make([]float32, dims)
	for i, img := range q.Images {
		x, err := p.pictureTensors([]image.Image{img})
		if err != nil {
			return nil, err
		}
		cond, err := attributeConditions(q.Prompts[i:i+1], k)
		if err != nil {
			return nil, err
		}
		for t := range k {
			gen.Rand(u)
			dequantize(x, u, xk[t*dims:(t+1)*dims])
		}
		z, logdet, err := p.encode(ctx, xk, cond, k)
		if err != nil {
			return nil, err
		}
		logp := make([]float64, k)
		mean := 0.0
		for t := range k {
			lp := float64(logdet[t])
			for _, e := range z[t*dims : (t+1)*dims] {
				lp += -0.5*float64(e)*float64(e) - 0.5*math.Log(2*math.Pi)
			}
			logp[t] = lp
			mean += lp / float64(k)
		}
		toBits := func(logp float64) float64 {
			return -(logp + float64(dims)*math.Log(flowBinWidth)) / (float64(dims) * math.Ln2)
		}
		res.ELBOBitsPerDim += toBits(mean)
		res.IWAEBitsPerDim += toBits(logMeanExp(logp))
	}
	n := float64(len(q.Images))
	res.ELBOBitsPerDim /= n
	res.IWAEBitsPerDim /= n
	return res, nil
}

// dequantize writes pictures' values (ImageTensor's v/127.5 − 1) as points
// (v + u)/128 − 1 of their bins.
func dequantize(x, u, dst []float32) {
	for j, v := range x {
		level := math.Round((float64(v) + 1) * 127.5)
		dst[j] = float32((level+float64(u[j]))*flowBinWidth - 1)
	}
}
