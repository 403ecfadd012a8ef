package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// pixelCheckpoint exports a tiny SD-layout checkpoint whose UNet works on
// 3-channel pictures, without its VAE, as an ImagegenDDPMPipeline.
func pixelCheckpoint(t *testing.T) string {
	t.Helper()
	cfg := onnxexport.TinySD()
	cfg.UNet.InChannels, cfg.UNet.OutChannels, cfg.UNet.SampleSize = 3, 3, 8
	dir := filepath.Join(t.TempDir(), "pixel")
	if err := onnxexport.ExportOptimum(dir, cfg, onnxexport.ExportOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"vae_decoder", "vae_encoder"} {
		if err := os.RemoveAll(filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	idx := map[string]any{"_class_name": "ImagegenDDPMPipeline", "unet": []string{"diffusers", "UNet2DConditionModel"},
		"text_encoder": []string{"transformers", "CLIPTextModel"}, "tokenizer": []string{"transformers", "CLIPTokenizer"},
		"scheduler": []string{"diffusers", "DDIMScheduler"}}
	raw, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "model_index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeConstantClassifier adds a classifier whose gradient is 1 at every
// pixel (times nothing the labels or the sample change).
func writeConstantClassifier(t *testing.T, dir string) {
	t.Helper()
	b := onnxexport.NewBuilder("classifier")
	x := b.Input("sample", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.D(3), onnxexport.Sym("height"), onnxexport.Sym("width"))
	ts := b.Input("timestep", onnxexport.Float32)
	y := b.Input("labels", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.D(shapes.ShapeLabelSize))
	zero := b.Mul(b.Add(b.ReduceSum(y, false), ts), b.ScalarLike(x, 0))
	b.Output("grad", b.Add(b.Add(b.Mul(x, b.ScalarLike(x, 0)), b.ScalarLike(x, 1)), zero))
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "classifier"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnxexport.Save(filepath.Join(dir, "classifier", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
}

// TestPixelSpaceCheckpoint: a checkpoint without a VAE runs through the
// diffusion loop and its pictures are the final samples, clamp((x+1)/2);
// a classifier scale is refused without a classifier.
func TestPixelSpaceCheckpoint(t *testing.T) {
	testort.Init(t)
	dir := pixelCheckpoint(t)
	ctx := context.Background()
	p, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.VAEScale(); got != 1 {
		t.Errorf("VAEScale() = %d, want 1", got)
	}
	res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Steps: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.W != 8 || res.H != 8 || len(res.Latents) != 3*8*8 {
		t.Fatalf("got %dx%d pictures from %d latents, want 8x8 from 192", res.W, res.H, len(res.Latents))
	}
	for c := range 3 {
		for k := range 64 {
			want := min(max(res.Latents[c*64+k]/2+0.5, 0), 1)
			if got := res.Images[k*3+c]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("pixel %d channel %d = %v, want %v", k, c, got, want)
			}
		}
	}
	for _, s := range []float64{1, -1, math.NaN()} {
		_, err = p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Steps: 2, ClassifierScale: s})
		if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "classifier") {
			t.Errorf("classifier scale %v without a classifier: got %v, want a bad request about the classifier", s, err)
		}
	}
}

// TestClassifierGuidance: with a classifier whose gradient is 1
// everywhere, ADM's ε rule moves every value of a one-step DDIM sample by
// the same amount, proportional to the scale; prompts outside the shapes
// vocabulary are refused.
func TestClassifierGuidance(t *testing.T) {
	testort.Init(t)
	dir := pixelCheckpoint(t)
	writeConstantClassifier(t, dir)
	ctx := context.Background()
	p, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	run := func(s float64) []float32 {
		t.Helper()
		g := 1.0
		res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Steps: 1, Seed: 3, Guidance: &g,
			Scheduler: "DDIMScheduler", SchedulerOpts: []string{"clip_sample=false"}, ClassifierScale: s})
		if err != nil {
			t.Fatalf("scale %v: %v", s, err)
		}
		return res.Latents
	}
	base, one, two := run(0), run(1), run(2)
	d1 := one[0] - base[0]
	if math.Abs(float64(d1)) < 1e-4 {
		t.Fatalf("scale 1 moved the sample by %v, want a visible shift", d1)
	}
	for i := range base {
		if got := one[i] - base[i]; math.Abs(float64(got-d1)) > 1e-4 {
			t.Fatalf("value %d moved by %v, value 0 by %v: want one shift everywhere", i, got, d1)
		}
		if got := two[i] - base[i]; math.Abs(float64(got-2*d1)) > 2e-4 {
			t.Fatalf("scale 2 moved value %d by %v, want %v", i, got, 2*d1)
		}
	}
	_, err = p.Generate(ctx, pipeline.Request{Prompts: []string{"a photo of a cat"}, Steps: 1, ClassifierScale: 1})
	if !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("a prompt the classifier cannot read: got %v, want a bad request", err)
	}
}
