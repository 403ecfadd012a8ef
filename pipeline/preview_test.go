package pipeline_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/pipeline"
)

// previewRun generates sd1/euler (10 steps) with previews every 4 steps.
func previewRun(t *testing.T, opts pipeline.Options) (*pipeline.Result, []pipeline.Preview) {
	t.Helper()
	var c refCase
	conformance.Case(t, "sd1/euler", &c)
	p, err := pipeline.Load(context.Background(), conformance.Dir(t, "sd1-tiny"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []pipeline.Preview
	r := c.request(t)
	r.PreviewEvery = 4
	r.Preview = func(pv pipeline.Preview) { got = append(got, pv) }
	res, err := p.Generate(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return res, got
}

// TestPreviewLinear: previews at steps 4, 8 and the last, at the latent
// size; the last one is the SD 1 factors applied to the final latents.
func TestPreviewLinear(t *testing.T) {
	testort.Init(t)
	res, got := previewRun(t, pipeline.Options{})
	if len(got) != 3 || got[0].Step != 4 || got[1].Step != 8 || got[2].Step != res.Steps {
		t.Fatalf("previews at %v, want steps 4, 8, %d", steps(got), res.Steps)
	}
	last := got[2]
	h, w := int(res.LatentShape[2]), int(res.LatentShape[3])
	if last.N != 1 || last.H != h || last.W != w || len(last.Images) != h*w*3 {
		t.Fatalf("preview %dx%dx%d, want 1x%dx%d", last.N, last.H, last.W, h, w)
	}
	factors := [4][3]float64{{0.3512, 0.2297, 0.3227}, {0.3250, 0.4974, 0.2350}, {-0.2829, 0.1762, 0.2721}, {-0.2120, -0.2616, -0.7177}}
	for k := 0; k < h*w; k++ {
		for o := 0; o < 3; o++ {
			var v float64
			for c := 0; c < 4; c++ {
				v += factors[c][o] * float64(res.Latents[c*h*w+k])
			}
			want := math.Min(1, math.Max(0, (v+1)/2))
			if d := math.Abs(float64(last.Images[k*3+o]) - want); d > 1e-5 {
				t.Fatalf("pixel %d channel %d = %v, want %v", k, o, last.Images[k*3+o], want)
			}
		}
	}
}

func steps(p []pipeline.Preview) []int {
	var s []int
	for _, x := range p {
		s = append(s, x.Step)
	}
	return s
}

// TestPreviewDecoder runs a random-weight decoder in TAESD's public ONNX
// layout (vae_decoder/model.onnx: latent_sample → sample, here a 1×1
// convolution and tanh) and checks the preview is its output mapped to
// [0, 1].
func TestPreviewDecoder(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	wdata := []float32{0.5, -0.3, 0.2, 0.1, -0.4, 0.6, 0.3, -0.2, 0.25, 0.15, -0.35, 0.45}
	b := onnxexport.NewBuilder("taesd")
	x := b.Input("latent_sample", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(4), onnxexport.Sym("h"), onnxexport.Sym("w"))
	wv := b.Param("conv.weight", onnxexport.NewFloat32([]int64{3, 4, 1, 1}, wdata))
	y := b.Op("Conv", []*onnxexport.Value{x, wv}, nil, onnxexport.ValueType{DType: onnxexport.Float32,
		Shape: onnxexport.Shape{onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.Sym("h"), onnxexport.Sym("w")}})[0]
	b.Output("sample", b.Tanh(y))
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vae_decoder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnxexport.Save(filepath.Join(dir, "vae_decoder", "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	res, got := previewRun(t, pipeline.Options{PreviewDecoder: dir})
	last := got[len(got)-1]
	h, w := int(res.LatentShape[2]), int(res.LatentShape[3])
	for k := 0; k < h*w; k++ {
		for o := 0; o < 3; o++ {
			var v float64
			for c := 0; c < 4; c++ {
				v += float64(wdata[o*4+c]) * float64(res.Latents[c*h*w+k])
			}
			want := math.Tanh(v)/2 + 0.5
			if d := math.Abs(float64(last.Images[k*3+o]) - want); d > 1e-5 {
				t.Fatalf("pixel %d channel %d = %v, want %v", k, o, last.Images[k*3+o], want)
			}
		}
	}
	if _, err := pipeline.Load(context.Background(), conformance.Dir(t, "sd1-tiny"), pipeline.Options{PreviewDecoder: t.TempDir()}); err == nil {
		t.Error("a preview decoder folder without vae_decoder/model.onnx loaded")
	}
}

// TestVAETileForced decodes and encodes (img2img) sd1-tiny in 16-pixel
// tiles: the pictures keep their size and stay close to the whole-picture
// run (random weights; each tile's GroupNorm sees its own statistics).
func TestVAETileForced(t *testing.T) {
	testort.Init(t)
	var c refCase
	conformance.Case(t, "sd1/euler", &c)
	dir := conformance.Dir(t, "sd1-tiny")
	whole := generateWith(t, dir, pipeline.Options{}, &c)
	tiled := generateWith(t, dir, pipeline.Options{VAETile: 16}, &c)
	compare(t, "tiled vs whole decode", tiled, whole, 0.25, 0.05)
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{VAETile: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := c.request(t)
	r.InitImage, r.Strength = gradient(32, 32), 0.5
	res, err := p.Generate(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if res.H != 32 || res.W != 32 {
		t.Errorf("img2img with tiled encode: %dx%d, want 32x32", res.W, res.H)
	}
}
