package pipeline

import (
	"context"
	"fmt"
	"math"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/schedulers"
	"github.com/imagegen/imagegen/shapes"
)

// classifierFolder is the component folder of a noise-conditional
// classifier's gradient graph: inputs sample (x_t) [B,C,H,W], timestep and
// labels [B,L] (shapes.ShapeLabels of each prompt) → grad, ∇_{x_t} Σ log
// p(labels | x_t) [B,C,H,W]. builtin:ddpm ships one.
const classifierFolder = "classifier"

// classifierGuide applies ADM's classifier guidance (Dhariwal & Nichol
// 2021, "Diffusion models beat GANs on image synthesis", algorithm 2) in
// its ε form: ε̂ ← ε̂ − s·√(1−ᾱ_t)·∇_{x_t} log p(y | x_t), which works
// with every scheduler that takes ε. Its buffers live for one run.
type classifierGuide struct {
	sess    *ort.Session
	scale   float64
	labels  []float32 // [batch, L]
	x, grad []float32
	ts      []float32
	shape   []int64
	// one, zero and level probe the scheduler's noise level at a
	// timestep through AddNoise.
	one, zero, level []float32
}

// hasClassifier reports whether the checkpoint ships a classifier for
// Request.ClassifierScale.
func (p *diffusionPipeline) hasClassifier() bool { return p.classifier != nil }

// newClassifierGuide prepares classifier guidance for run r, or returns
// nil when the request asks for none.
func (p *diffusionPipeline) newClassifierGuide(r *run) (*classifierGuide, error) {
	q := r.q
	if q.ClassifierScale == 0 {
		return nil, nil
	}
	if p.classifier == nil {
		return nil, errNoClassifier
	}
	if pt := r.sched.Config().PredictionType; pt != "" && pt != schedulers.PredictEpsilon {
		return nil, badRequest("classifier guidance needs an ε-prediction scheduler, not prediction_type %q", pt)
	}
	if r.packed || r.inpaint != nil {
		return nil, badRequest("classifier guidance applies to text-to-image and img2img only")
	}
	info, ok := p.classifier.Input("labels")
	if !ok || len(info.Shape) != 2 || info.Shape[1] != shapes.ShapeLabelSize {
		return nil, fmt.Errorf("pipeline: %s: the classifier's labels input is %v, want [batch, %d] (shapes.ShapeLabels)", p.dir, info.Shape, shapes.ShapeLabelSize)
	}
	g := &classifierGuide{sess: p.classifier, scale: q.ClassifierScale, one: []float32{1}, zero: []float32{0}, level: make([]float32, 1)}
	g.labels = make([]float32, 0, r.batch*shapes.ShapeLabelSize)
	for _, prompt := range q.Prompts {
		scene, err := shapes.ParsePrompt(prompt)
		if err != nil {
			return nil, badRequest("classifier guidance reads the shapes a prompt names: %v", err)
		}
		y := shapes.ShapeLabels(scene)
		for range q.NumImages {
			g.labels = append(g.labels, y...)
		}
	}
	g.x = make([]float32, len(r.latents))
	g.grad = make([]float32, len(r.latents))
	g.ts = make([]float32, r.batch)
	g.shape = r.latentShape()
	return g, nil
}

// noiseLevel returns how the scheduler's latents at timestep t relate to
// the variance-preserving x_t the classifier was trained on (x_t =
// latents / norm) and that x_t's noise level √(1−ᾱ_t). AddNoise says
// latents = a·x0 + s·ε: a = √ᾱ, s = √(1−ᾱ) for DDPM-style schedulers
// (norm 1), a = 1, s = σ for variance-exploding ones (norm √(1+σ²)).
func (g *classifierGuide) noiseLevel(sched schedulers.Scheduler, t float64) (norm, sigma float64) {
	sched.AddNoise(g.level, g.one, g.zero, t)
	a := float64(g.level[0])
	sched.AddNoise(g.level, g.zero, g.one, t)
	s := float64(g.level[0])
	norm = math.Hypot(a, s)
	return norm, s / norm
}

// apply shifts eps, the ε prediction for latents at timestep t, by the
// classifier's gradient.
func (g *classifierGuide) apply(ctx context.Context, sched schedulers.Scheduler, latents, eps []float32, t float64) error {
	norm, sigma := g.noiseLevel(sched, t)
	inv := float32(1 / norm)
	for i, v := range latents {
		g.x[i] = v * inv
	}
	for i := range g.ts {
		g.ts[i] = float32(t)
	}
	in := map[string]ort.Tensor{
		"sample":   {Shape: g.shape, F32: g.x},
		"timestep": {Shape: []int64{int64(len(g.ts))}, F32: g.ts},
		"labels":   {Shape: []int64{int64(len(g.ts)), shapes.ShapeLabelSize}, F32: g.labels},
	}
	out := map[string]*ort.Tensor{"grad": {Shape: g.shape, F32: g.grad}}
	if err := g.sess.Run(ctx, in, out); err != nil {
		return fmt.Errorf("pipeline: classifier: %w", err)
	}
	shift := float32(g.scale * sigma)
	for i, d := range g.grad {
		eps[i] -= shift * d
	}
	return nil
}
