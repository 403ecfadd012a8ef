package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// openBuilder builds b (float32 weights) and opens it with ONNX Runtime.
func openBuilder(t *testing.T, b *onnxexport.Builder) *ort.Session {
	t.Helper()
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ort.OpenBytes(b.Name(), data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// TestPriorLossIsMixtureNLL checks that the prior's training loss is
// −log p(z | c) per latent dimension as the host mixture computes it from
// the exported prior graph's outputs with the same weights: what training
// minimizes is the density the bounds use. The latents are far from the
// means for some components and near for others, so that the
// log-sum-exp's shift matters.
func TestPriorLossIsMixtureNLL(t *testing.T) {
	testort.Init(t)
	cfg := priorConfig{Components: 3, Hidden: 8, Latent: 4}
	const batch = 3
	b, loss := priorLoss(cfg, 5, batch)
	b.Output("loss", b.Reshape(loss, 1))
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		w[p.Name] = p.Tensor
	}
	train := openBuilder(t, b)
	defer train.Close()
	g := priorGraph(cfg)
	if err := g.LoadParams(w); err != nil {
		t.Fatal(err)
	}
	exported := openBuilder(t, g)
	defer exported.Close()

	rng := rand.New(rand.NewPCG(3, 4))
	var c, z []float32
	for i, p := range []string{"a red circle", "", "a small blue square on the left"} {
		ci, err := shapes.Condition(p)
		if err != nil {
			t.Fatal(err)
		}
		c = append(c, ci...)
		for range cfg.Latent {
			z = append(z, float32(3*float64(i)*rng.NormFloat64()))
		}
	}
	out := map[string]*ort.Tensor{"loss": {}}
	in := map[string]ort.Tensor{
		inCondition: {Shape: []int64{batch, shapes.ConditionSize}, F32: c},
		inLatent:    {Shape: []int64{batch, cfg.Latent}, F32: z},
	}
	if err := train.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	p := &mixturePrior{sess: exported, cfg: priorFileConfig{Components: cfg.Components, LatentDim: cfg.Latent}, temperature: 1}
	var want float64
	for i := range batch {
		d, err := p.given(context.Background(), c[i*shapes.ConditionSize:(i+1)*shapes.ConditionSize])
		if err != nil {
			t.Fatal(err)
		}
		want -= d.logDensity(z[i*int(cfg.Latent):(i+1)*int(cfg.Latent)]) / batch / float64(cfg.Latent)
	}
	if got := float64(out["loss"].F32[0]); math.Abs(got-want) > 1e-4*max(1, math.Abs(want)) {
		t.Errorf("loss %v, want %v", got, want)
	}
}

// TestMixtureSample checks that a mixture with one dominant component
// samples from it, at the mean plus τ·σ·ε.
func TestMixtureSample(t *testing.T) {
	m := mixture{k: 2, zd: 2, temperature: 0.5, logits: []float32{-30, 30},
		mean: []float32{-100, -100, 4, 5}, logStd: []float32{0, 0, math.Ln2, math.Ln2}}
	for seed := range uint64(20) {
		z := m.sample(seed)
		for d, want := range []float64{4, 5} {
			if math.Abs(float64(z[d])-want) > 5*0.5*2 {
				t.Errorf("seed %d: z[%d] = %v, want near %v", seed, d, z[d], want)
			}
		}
	}
}
