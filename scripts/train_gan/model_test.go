package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/pipeline"
)

// TestAlternatingStepsShareWeights builds both training graphs: each
// freezes exactly the other network's parameters (as host inputs), and
// one alternating step moves both networks' weights (with the auxiliary
// classifier on).
func TestAlternatingStepsShareWeights(t *testing.T) {
	testort.Init(t)
	cfg := defaultConfig()
	cfg.Aux = 1
	o := options{batch: 2, steps: 10, lrD: 1e-3, lrG: 1e-3, ema: 0.9, pictures: 8, emptyRate: 0.5, threads: 1, seed: 3}
	p, err := newPair(o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	names := func(prefix string, from []string) []string {
		var out []string
		for _, n := range from {
			if !strings.HasPrefix(n, prefix) {
				t.Errorf("%s is not a %s parameter", n, prefix)
			}
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	gW, dW := p.g.Weights(false), p.d.Weights(false)
	var dHost, gHost []string
	for _, h := range p.dHost {
		dHost = append(dHost, h.Name)
	}
	for _, h := range p.gHost {
		gHost = append(gHost, h.Name)
	}
	gSet, dSet := map[string]bool{}, map[string]bool{}
	for n := range gW {
		gSet[n] = true
	}
	for n := range dW {
		dSet[n] = true
	}
	gOwn, dOwn := names("generator.", keys(gSet)), names("discriminator.", keys(dSet))
	if !slices.Equal(names("generator.", dHost), gOwn) {
		t.Errorf("the discriminator's step freezes %d tensors, the generator trains %d", len(dHost), len(gOwn))
	}
	if !slices.Equal(names("discriminator.", gHost), dOwn) {
		t.Errorf("the generator's step freezes %d tensors, the discriminator trains %d", len(gHost), len(dOwn))
	}
	if _, _, err := p.step(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved := func(before, after map[string]*onnxexport.Tensor) bool {
		for n, v := range before {
			if !slices.Equal(v.Float32, after[n].Float32) {
				return true
			}
		}
		return false
	}
	if !moved(gW, p.g.Weights(false)) || !moved(dW, p.d.Weights(false)) {
		t.Error("an alternating step left a network's weights unchanged")
	}
	for _, name := range []string{"r1", "aux"} {
		if v, err := p.d.Aux(name); err != nil || len(v.F32) != 1 || !(v.F32[0] > 0) {
			t.Errorf("%s output %v (%v), want a positive value", name, v.F32, err)
		}
	}
}

// TestExportedGeneratorLoads exports untrained weights and runs the
// folder through the pipeline's GAN family.
func TestExportedGeneratorLoads(t *testing.T) {
	testort.Init(t)
	cfg := defaultConfig()
	b := generatorGraph(cfg)
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		w[p.Name] = p.Tensor
	}
	dir := filepath.Join(t.TempDir(), "gan")
	if err := export(dir, cfg, w, 0.8); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, NumImages: 2, Truncation: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 2 || res.H != imageSize || res.W != imageSize || p.Family() != pipeline.FamilyGAN {
		t.Fatalf("got %d pictures of %dx%d from family %s", res.N, res.W, res.H, p.Family())
	}
}
