package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/latentset"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/schedulers"
)

// pairSet holds reflow's couplings: noise ε and the sample x0 the teacher
// flow carries it to for a caption (an index into the latent set's
// caption states).
type pairSet struct {
	n, per         int
	noises, points []float32
	caption        []int
}

func (p *pairSet) noise(i int) []float32  { return p.noises[i*p.per : (i+1)*p.per] }
func (p *pairSet) sample(i int) []float32 { return p.points[i*p.per : (i+1)*p.per] }

// split returns the first n pairs and the rest (held out).
func (p *pairSet) split(n int) (train, held *pairSet) {
	cut := func(lo, hi int) *pairSet {
		return &pairSet{n: hi - lo, per: p.per, noises: p.noises[lo*p.per : hi*p.per], points: p.points[lo*p.per : hi*p.per], caption: p.caption[lo:hi]}
	}
	return cut(0, n), cut(n, p.n)
}

// flowSampler runs a velocity model (an ONNX file with the DiT's
// UNet-compatible inputs) through FlowMatchEulerDiscreteScheduler with
// classifier-free guidance: the sampler the pipeline runs, so the pairs are
// the ones `imagegen generate` would draw from the same noise.
type flowSampler struct {
	sess     *ort.Session
	set      *latentset.Set
	shape    []int64 // one latent: C, H, W
	steps    int
	guidance float64 // ≤ 1: one model run per step, no "" batch
	shift    float64
}

func openSampler(path string, set *latentset.Set, threads, steps int, guidance, shift float64) (*flowSampler, error) {
	sess, err := ort.Open(path, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	side := int64(1)
	for side*side*4 < int64(set.Per) {
		side++
	}
	return &flowSampler{sess: sess, set: set, shape: []int64{int64(set.Per) / (side * side), side, side}, steps: steps, guidance: guidance, shift: shift}, nil
}

func (s *flowSampler) Close() { s.sess.Close() }

func (s *flowSampler) cfg() bool { return s.guidance > 1 }

// velocity writes the (guided) velocity at x [B,per] for timestep t
// (1000σ) and the captions' states into v.
func (s *flowSampler) velocity(ctx context.Context, x []float32, t float32, captions []int, v []float32) error {
	b, per, hd := len(captions), s.set.Per, s.set.HiddenLen*s.set.Hidden
	nb := b
	if s.cfg() {
		nb *= 2
	}
	in := make([]float32, nb*per)
	states := make([]float32, nb*hd)
	ts := make([]float32, nb)
	for k := range nb {
		copy(in[k*per:], x[(k%b)*per:(k%b+1)*per])
		if k < b {
			copy(states[k*hd:], s.set.States[captions[k]*hd:(captions[k]+1)*hd])
		} else {
			copy(states[k*hd:], s.set.EmptyStates)
		}
		ts[k] = t
	}
	out := make([]float32, nb*per)
	shape := append([]int64{int64(nb)}, s.shape...)
	err := s.sess.Run(ctx, map[string]ort.Tensor{
		"sample":                {Shape: shape, F32: in},
		"timestep":              {Shape: []int64{int64(nb)}, F32: ts},
		"encoder_hidden_states": {Shape: []int64{int64(nb), int64(s.set.HiddenLen), int64(s.set.Hidden)}, F32: states},
	}, map[string]*ort.Tensor{"out_sample": {Shape: shape, F32: out}})
	if err != nil {
		return err
	}
	if !s.cfg() {
		copy(v, out)
		return nil
	}
	w := float32(s.guidance)
	for j := range v {
		c, u := out[j], out[b*per+j]
		v[j] = u + w*(c-u)
	}
	return nil
}

// velocityFunc writes a flow's velocity at x [B,per] for timestep t
// (1000σ) and B captions into v.
type velocityFunc func(ctx context.Context, x []float32, t float32, captions []int, v []float32) error

// sample integrates the flow from noise (replaced by the sample).
func (s *flowSampler) sample(ctx context.Context, x []float32, captions []int) error {
	c, err := schedulers.DefaultConfig(schedulers.ClassFlowMatchEulerDiscrete)
	if err != nil {
		return err
	}
	c.Shift = s.shift
	sched, err := schedulers.New(c)
	if err != nil {
		return err
	}
	if err := sched.SetTimesteps(schedulers.TimestepParams{Steps: s.steps}); err != nil {
		return err
	}
	v := make([]float32, len(x))
	for i, t := range sched.Timesteps() {
		if err := s.velocity(ctx, x, float32(t), captions, v); err != nil {
			return err
		}
		if err := sched.Step(x, v, x, i, nil); err != nil {
			return err
		}
	}
	return nil
}

// makePairs draws n noises (seeded) for the first n captions of the set
// (cycling) and integrates each to its sample, or reads them from path.
func makePairs(ctx context.Context, s *flowSampler, n int, seed uint64, path string) (*pairSet, error) {
	per := s.set.Per
	p := &pairSet{n: n, per: per, noises: make([]float32, n*per), points: make([]float32, n*per), caption: make([]int, n)}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := range p.caption {
		p.caption[i] = i % s.set.N
	}
	for j := range p.noises {
		p.noises[j] = float32(rng.NormFloat64())
	}
	buf := make([]float32, 2*n*per)
	if latentset.ReadFloats(path, buf) == nil {
		copy(p.noises, buf[:n*per])
		copy(p.points, buf[n*per:])
		return p, nil
	}
	const batch = 50
	for i0 := 0; i0 < n; i0 += batch {
		m := min(batch, n-i0)
		x := p.points[i0*per : (i0+m)*per]
		copy(x, p.noises[i0*per:(i0+m)*per])
		if err := s.sample(ctx, x, p.caption[i0:i0+m]); err != nil {
			return nil, err
		}
		if (i0/batch)%10 == 0 {
			fmt.Fprintf(os.Stderr, "pairs: %d/%d\n", i0+m, n)
		}
	}
	copy(buf, p.noises)
	copy(buf[n*per:], p.points)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return p, latentset.WriteFloats(path, buf)
}

// straightness estimates S = E ∫₀¹ ‖(ε − x0) − v(x_σ, σ)‖² dσ over the
// pairs by Monte Carlo: draws σ uniform per pair (draws times), with
// x_σ = (1−σ)·x0 + σ·ε on the straight line between the pair's ends. The
// norm is the mean over latent elements. S is 0 exactly when the model's
// flow moves every pair along its straight line at constant speed (Liu et
// al. 2022, "Flow Straight and Fast", eq. 5 up to the time convention).
func straightness(ctx context.Context, velocity velocityFunc, pairs *pairSet, draws int, seed uint64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	per := pairs.per
	const batch = 50
	total, count := 0.0, 0
	for range draws {
		for i0 := 0; i0 < pairs.n; i0 += batch {
			m := min(batch, pairs.n-i0)
			// One σ per batch keeps the model call's timestep shared; the
			// batches and draws spread it over (0, 1).
			sigma := rng.Float64()
			x := make([]float32, m*per)
			v := make([]float32, m*per)
			for k := range m {
				eps, x0 := pairs.noise(i0+k), pairs.sample(i0+k)
				for q := range per {
					x[k*per+q] = float32((1-sigma)*float64(x0[q]) + sigma*float64(eps[q]))
				}
			}
			if err := velocity(ctx, x, float32(sigma*numTrainTimesteps), pairs.caption[i0:i0+m], v); err != nil {
				return 0, err
			}
			for k := range m {
				eps, x0 := pairs.noise(i0+k), pairs.sample(i0+k)
				for q := range per {
					d := float64(eps[q]-x0[q]) - float64(v[k*per+q])
					total += d * d
				}
				count += per
			}
		}
	}
	return total / float64(count), nil
}
