package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// latentPrior is p(z | c) in host code: what the figures sample prior
// latents from and what the bounds take log p(z | c) from.
type latentPrior interface {
	// given returns the prior's distribution for condition c.
	given(ctx context.Context, c []float32) (latentDist, error)
}

// latentDist is p(z | c) for one condition c.
type latentDist interface {
	// sample returns the latent of sample seed, drawn with randomness
	// from PCG(seed, 0) at the prior's temperature.
	sample(seed uint64) []float32
	// logDensity returns log p(z | c) at temperature 1.
	logDensity(z []float32) float64
}

// standardNormal is the N(0, I) prior of the VAE's training objective;
// its samples are τ·ε.
type standardNormal struct {
	zd          int64
	temperature float64
}

func (p standardNormal) given(context.Context, []float32) (latentDist, error) { return p, nil }

func (p standardNormal) sample(seed uint64) []float32 {
	z := priorSample(seed, p.zd)
	for i := range z {
		z[i] *= float32(p.temperature)
	}
	return z
}

func (p standardNormal) logDensity(z []float32) float64 { return logPrior(z) }

// mixturePrior is the learned prior (prior/model.onnx): a mixture of K
// diagonal Gaussians given c.
type mixturePrior struct {
	sess        *ort.Session
	cfg         priorFileConfig
	temperature float64
}

// openPrior opens the prior in dir/prior; ok is false when the folder
// has none.
func openPrior(dir string, threads int) (p *mixturePrior, ok bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, "prior", "config.json"))
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p = &mixturePrior{}
	if err := json.Unmarshal(raw, &p.cfg); err != nil {
		return nil, false, fmt.Errorf("%s: prior config: %w", dir, err)
	}
	p.temperature = p.cfg.Temperature
	if p.sess, err = ort.Open(filepath.Join(dir, "prior", "model.onnx"), ort.Options{IntraOpThreads: threads}); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func (p *mixturePrior) close() { p.sess.Close() }

// withTemperature returns p sampling at temperature t.
func (p *mixturePrior) withTemperature(t float64) *mixturePrior {
	q := *p
	q.temperature = t
	return &q
}

func (p *mixturePrior) given(ctx context.Context, c []float32) (latentDist, error) {
	out := map[string]*ort.Tensor{outLogits: {}, outMean: {}, outLogStd: {}}
	in := map[string]ort.Tensor{inCondition: {Shape: []int64{1, shapes.ConditionSize}, F32: c}}
	if err := p.sess.Run(ctx, in, out); err != nil {
		return nil, err
	}
	return mixture{k: int(p.cfg.Components), zd: int(p.cfg.LatentDim), temperature: p.temperature,
		logits: out[outLogits].F32, mean: out[outMean].F32, logStd: out[outLogStd].F32}, nil
}

// mixture is Σ_k π_k N(mean_k, diag exp(2·logStd_k)), π = softmax(logits).
type mixture struct {
	k, zd                int
	temperature          float64
	logits, mean, logStd []float32
}

// logWeights returns log softmax(logits).
func (m mixture) logWeights() []float64 {
	top := math.Inf(-1)
	for _, v := range m.logits {
		top = max(top, float64(v))
	}
	var sum float64
	for _, v := range m.logits {
		sum += math.Exp(float64(v) - top)
	}
	lw := make([]float64, m.k)
	for i, v := range m.logits {
		lw[i] = float64(v) - top - math.Log(sum)
	}
	return lw
}

// sample draws the component from u = the first Float64 of PCG(seed, 0)
// against the weights' running sum, then z = mean + τ·σ·ε with ε the next
// Z NormFloat64 values.
func (m mixture) sample(seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	u := rng.Float64()
	lw := m.logWeights()
	comp := m.k - 1
	for i, v := range lw {
		u -= math.Exp(v)
		if u < 0 {
			comp = i
			break
		}
	}
	z := make([]float32, m.zd)
	for d := range z {
		j := comp*m.zd + d
		z[d] = m.mean[j] + float32(m.temperature*math.Exp(float64(m.logStd[j]))*rng.NormFloat64())
	}
	return z
}

func (m mixture) logDensity(z []float32) float64 {
	lw := m.logWeights()
	a := make([]float64, m.k)
	for i := range m.k {
		s := lw[i]
		for d := range m.zd {
			j := i*m.zd + d
			ls := float64(m.logStd[j])
			e := (float64(z[d]) - float64(m.mean[j])) * math.Exp(-ls)
			s += -0.5*e*e - ls - halfLog2Pi
		}
		a[i] = s
	}
	// iwaeBound is log (1/k) Σ exp(a_i); the mixture wants log Σ exp(a_i).
	return iwaeBound(a) + math.Log(float64(m.k))
}
