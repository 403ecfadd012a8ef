package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"time"

	"github.com/imagegen/imagegen/shapes"
)

// heldOutSet is n held-out pictures, dequantized with noise from a fixed
// seed, with the conditions of their captions.
type heldOutSet struct {
	n    int
	x, c []float32
}

func newHeldOutSet(n int) (*heldOutSet, error) {
	s := &heldOutSet{n: n, x: make([]float32, n*pixels), c: make([]float32, 0, n*shapes.ConditionSize)}
	rng := rand.New(rand.NewPCG(7, 7))
	ds := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}
	for i := range n {
		smp, err := ds.Sample(i)
		if err != nil {
			return nil, err
		}
		dequantize(smp.Image.Pix, smp.Image.Stride, rng.Float64, s.x[i*pixels:(i+1)*pixels])
		c, err := shapes.Condition(smp.Caption)
		if err != nil {
			return nil, fmt.Errorf("held-out caption %q: %w", smp.Caption, err)
		}
		s.c = append(s.c, c...)
	}
	return s, nil
}

// posteriorStats are the collapse monitor's figures on a held-out set.
type posteriorStats struct {
	// KLPerDim is each latent dimension's KL from the prior, averaged
	// over the pictures (nats); KL their sum.
	KLPerDim []float64
	KL       float64
	// Active counts the dimensions whose posterior mean varies across
	// pictures: Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2016).
	Active int
	// ELBO is the bound in bits/dim with one posterior sample per picture;
	// Recon its reconstruction term alone.
	ELBO, Recon float64
}

const activeThreshold = 0.01

// monitorPosterior computes posteriorStats of m on set.
func monitorPosterior(ctx context.Context, m *cvae, set *heldOutSet) (posteriorStats, error) {
	zd := int(m.latent)
	st := posteriorStats{KLPerDim: make([]float64, zd)}
	sum, sq := make([]float64, zd), make([]float64, zd)
	rng := rand.New(rand.NewPCG(11, 11))
	const batch = 64
	var recon float64
	for i0 := 0; i0 < set.n; i0 += batch {
		n := min(batch, set.n-i0)
		x := set.x[i0*pixels : (i0+n)*pixels]
		c := set.c[i0*shapes.ConditionSize : (i0+n)*shapes.ConditionSize]
		mean, logvar, err := m.encode(ctx, x, c, n)
		if err != nil {
			return st, err
		}
		z := make([]float32, len(mean))
		for k := range z {
			z[k] = mean[k] + float32(math.Exp(0.5*float64(logvar[k]))*rng.NormFloat64())
		}
		mu, err := m.decode(ctx, z, c, n)
		if err != nil {
			return st, err
		}
		for k := range n {
			st.KL += klPerDim(mean[k*zd:(k+1)*zd], logvar[k*zd:(k+1)*zd], st.KLPerDim)
			recon += logLikelihood(x[k*pixels:(k+1)*pixels], mu[k*pixels:(k+1)*pixels], m.logStd)
			for d := range zd {
				v := float64(mean[k*zd+d])
				sum[d] += v
				sq[d] += v * v
			}
		}
	}
	nf := float64(set.n)
	for d := range zd {
		st.KLPerDim[d] /= nf
		if sq[d]/nf-(sum[d]/nf)*(sum[d]/nf) > activeThreshold {
			st.Active++
		}
	}
	st.KL /= nf
	recon /= nf
	st.Recon = bitsPerDim(-recon)
	st.ELBO = bitsPerDim(st.KL - recon)
	return st, nil
}

// likelihoodBounds are bits/dim of held-out pictures under p(x | c).
type likelihoodBounds struct {
	Pictures, K int
	// ELBO uses the analytic KL and the mean reconstruction term of the K
	// samples; IWAE1 the first sample alone; IWAEK all K.
	ELBO, IWAE1, IWAEK float64
}

// boundLikelihood computes likelihoodBounds with k importance samples
// from q(z | x, c) per picture of set.
func boundLikelihood(ctx context.Context, m *cvae, prior latentPrior, set *heldOutSet, k int) (likelihoodBounds, error) {
	zd := int(m.latent)
	r := likelihoodBounds{Pictures: set.n, K: k}
	rng := rand.New(rand.NewPCG(13, 13))
	var elbo, iw1, iwk float64
	z := make([]float32, k*zd)
	cs := make([]float32, k*shapes.ConditionSize)
	logW := make([]float64, k)
	kl := make([]float64, zd)
	for i := range set.n {
		x := set.x[i*pixels : (i+1)*pixels]
		c := set.c[i*shapes.ConditionSize : (i+1)*shapes.ConditionSize]
		mean, logvar, err := m.encode(ctx, x, c, 1)
		if err != nil {
			return r, err
		}
		pz, err := prior.given(ctx, c)
		if err != nil {
			return r, err
		}
		for j := range k {
			for d := range zd {
				z[j*zd+d] = mean[d] + float32(math.Exp(0.5*float64(logvar[d]))*rng.NormFloat64())
			}
			copy(cs[j*shapes.ConditionSize:], c)
		}
		mu, err := m.decode(ctx, z, cs, k)
		if err != nil {
			return r, err
		}
		var recon float64
		for j := range k {
			zj := z[j*zd : (j+1)*zd]
			ll := logLikelihood(x, mu[j*pixels:(j+1)*pixels], m.logStd)
			recon += ll / float64(k)
			lp := pz.logDensity(zj)
			logW[j] = ll + lp - logPosterior(zj, mean, logvar)
			// With a prior other than N(0, I) the KL has no closed
			// form: E_q[log p(z | c) − log q(z | x, c)] by the samples.
			if _, ok := prior.(standardNormal); !ok {
				recon += (lp - logPosterior(zj, mean, logvar)) / float64(k)
			}
		}
		if _, ok := prior.(standardNormal); ok {
			recon -= klPerDim(mean, logvar, kl)
		}
		elbo += recon
		iw1 += logW[0]
		iwk += iwaeBound(logW)
	}
	nf := float64(set.n)
	r.ELBO, r.IWAE1, r.IWAEK = bitsPerDim(-elbo/nf), bitsPerDim(-iw1/nf), bitsPerDim(-iwk/nf)
	return r, nil
}

func (r likelihoodBounds) String() string {
	return fmt.Sprintf("%d held-out pictures: ELBO %.4f bits/dim, IWAE k=1 %.4f, k=%d %.4f", r.Pictures, r.ELBO, r.IWAE1, r.K, r.IWAEK)
}

// priorSample returns the latent of prior sample seed: Z standard normal
// values from PCG(seed, 0), the fixed seeds of the checker's figures.
func priorSample(seed uint64, zd int64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	z := make([]float32, zd)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	return z
}

// checkPrior decodes one prior sample per prompt (seed = the prompt's
// index) one at a time, scores the pictures with the shapes checker and
// returns the report, the pictures and the mean wall time per picture
// (condition, decoder run, conversion).
func checkPrior(ctx context.Context, m *cvae, prior latentPrior, prompts []string) (shapes.Report, []*image.NRGBA, time.Duration, error) {
	cases := make([]shapes.Case, len(prompts))
	imgs := make([]*image.NRGBA, len(prompts))
	start := time.Now()
	for i, p := range prompts {
		c, err := shapes.Condition(p)
		if err != nil {
			return shapes.Report{}, nil, 0, fmt.Errorf("prompt %q: %w", p, err)
		}
		pz, err := prior.given(ctx, c)
		if err != nil {
			return shapes.Report{}, nil, 0, err
		}
		mu, err := m.decode(ctx, pz.sample(uint64(i)), c, 1)
		if err != nil {
			return shapes.Report{}, nil, 0, err
		}
		imgs[i] = chwToImage(mu)
		cases[i] = shapes.Case{Image: imgs[i], Prompt: p}
	}
	per := time.Since(start) / time.Duration(max(len(prompts), 1))
	rep, err := shapes.Evaluate(cases)
	return rep, imgs, per, err
}

// chwToImage turns a decoder mean [3,32,32] in [-1, 1] into a picture:
// the bin each value falls in, clamped to 0..255.
func chwToImage(px []float32) *image.NRGBA {
	const s = imageSize
	img := image.NewNRGBA(image.Rect(0, 0, s, s))
	for y := range s {
		for x := range s {
			var c [3]uint8
			for k := range 3 {
				v := math.Floor((float64(px[(k*s+y)*s+x]) + 1) / binWidth)
				c[k] = uint8(max(0, min(255, v)))
			}
			img.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], 255})
		}
	}
	return img
}
