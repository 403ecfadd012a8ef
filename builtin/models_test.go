package builtin_test

import (
	"context"
	"image"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

func open(t *testing.T, name string) *pipeline.Pipeline {
	t.Helper()
	m, err := builtin.ByName(name)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := m.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return familytest.LoadDir(t, dir)
}

// TestShippedVAE guards the shipped weights: its samples follow held-out
// prompts (the README's figures are on 200-500 prompts; these bounds
// leave room for the noise of 40).
func TestShippedVAE(t *testing.T) {
	p := open(t, "vae")
	rep, err := evaluate.Run(context.Background(), p, "vae", evaluate.Options{N: 40, NoFrechet: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Color < 0.85 || rep.Shape < 0.45 || rep.Position < 0.8 {
		t.Errorf("builtin:vae on 40 held-out prompts: %s", rep.Text)
	}
}

// TestShippedVQGPT guards the shipped transformer the same way: 40
// held-out prompts, bounds below the README's 200-prompt figures (color
// 70.5%, shape 22.8%, position 19.3%); color is the one it has learned.
func TestShippedVQGPT(t *testing.T) {
	p := open(t, "vqgpt")
	rep, err := evaluate.Run(context.Background(), p, "vqgpt", evaluate.Options{N: 40, NoFrechet: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Color < 0.5 || rep.Shape < 0.1 || rep.Position < 0.05 {
		t.Errorf("builtin:vqgpt on 40 held-out prompts: %s", rep.Text)
	}
}

func TestShippedVQVAE(t *testing.T) {
	p := open(t, "vqvae")
	var imgs []image.Image
	var cases []shapes.Case
	for i := range 20 {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, s.Image)
		cases = append(cases, shapes.Case{Prompt: s.Caption})
	}
	codes, err := p.EncodeImages(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	if codes.H != 16 || codes.W != 16 {
		t.Fatalf("codes of %dx%d, want 16x16", codes.H, codes.W)
	}
	res, err := p.DecodeCodes(context.Background(), codes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
		for k := range 32 * 32 {
			for c := range 3 {
				img.Pix[4*k+c] = uint8(res.Images[(i*32*32+k)*3+c]*255 + 0.5)
			}
			img.Pix[4*k+3] = 255
		}
		cases[i].Image = img
	}
	rep, err := shapes.Evaluate(cases)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Shape.Rate() < 0.95 || rep.Color.Rate() < 0.95 {
		t.Errorf("builtin:vqvae reconstructions of 20 held-out pictures: %s", rep)
	}
}

// TestShippedPixelCNN guards the shipped weights: the exact likelihood of
// held-out pictures (deterministic) and the samples' colors on a few
// held-out prompts (the README's figures are on 200).
func TestShippedPixelCNN(t *testing.T) {
	p := open(t, "pixelcnn")
	var imgs []image.Image
	var caps []string
	for i := range 8 {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, s.Image)
		caps = append(caps, s.Caption)
	}
	ctx := context.Background()
	lik, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps})
	if err != nil {
		t.Fatal(err)
	}
	if !lik.Exact || lik.ELBOBitsPerDim > 0.6 {
		t.Errorf("builtin:pixelcnn on 8 held-out pictures: %.4f bits/dim (exact %v), want at most 0.6", lik.ELBOBitsPerDim, lik.Exact)
	}
	rep, err := evaluate.Run(ctx, p, "pixelcnn", evaluate.Options{N: 12, NoFrechet: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Color < 0.35 {
		t.Errorf("builtin:pixelcnn on 12 held-out prompts: %s", rep.Text)
	}
}

// TestShippedLCM guards the distilled model: at its default settings (4
// LCMScheduler steps, the embedded guidance) its pictures follow 40
// held-out prompts (bounds below the README's 300-prompt figures), and a
// step count beyond its original_inference_steps is refused, not drawn.
func TestShippedLCM(t *testing.T) {
	p := open(t, "lcm")
	rep, err := evaluate.Run(context.Background(), p, "lcm", evaluate.Options{N: 40, NoFrechet: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Color < 0.85 || rep.Shape < 0.7 || rep.Position < 0.8 {
		t.Errorf("builtin:lcm on 40 held-out prompts: %s", rep.Text)
	}
	_, err = p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, Steps: 51})
	if err == nil || !strings.Contains(err.Error(), "original_inference_steps 50") {
		t.Errorf("51 steps: %v, want an error naming original_inference_steps 50", err)
	}
}
