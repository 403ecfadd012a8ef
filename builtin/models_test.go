package builtin_test

import (
	"context"
	"errors"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// The video guard's size and bounds: 8 clips, bounds well below the
// README's held-out figures (shapes 70% stable, background flicker 5 levels;
// the image model run frame by frame, the untrained start: flicker 30) to
// leave room for the noise of 8. Direction is not guarded: the shipped
// model reads at chance there (10%).
const (
	videoTestClips  = 8
	videoMinStable  = 0.4
	videoMaxFlicker = 15
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

// TestShippedDDPM guards the pixel-space DDPM: its samples on a few
// held-out prompts (the README's figures are on 100–300), and its
// classifier: a classifier scale changes the picture, a negative one is
// refused.
func TestShippedDDPM(t *testing.T) {
	p := open(t, "ddpm")
	ctx := context.Background()
	rep, err := evaluate.Run(ctx, p, "ddpm", evaluate.Options{N: 12, NoFrechet: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Color < 0.1 || rep.Shape < 0.25 {
		t.Errorf("builtin:ddpm on 12 held-out prompts: %s", rep.Text)
	}
	gen := func(s float64) ([]float32, error) {
		res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle at the top left"}, Steps: 10, Seed: 4, ClassifierScale: s})
		if err != nil {
			return nil, err
		}
		return res.Images, nil
	}
	plain, err := gen(0)
	if err != nil {
		t.Fatal(err)
	}
	guided, err := gen(3)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0.0
	for i := range plain {
		moved = max(moved, math.Abs(float64(plain[i]-guided[i])))
	}
	if moved < 0.05 {
		t.Errorf("classifier scale 3 moved no value of the picture by more than %v", moved)
	}
	if _, err := gen(-1); !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("classifier scale -1: got %v, want a bad request", err)
	}
}

// TestShippedVideo guards builtin:video's weights: clips of a few
// held-out moving-shapes prompts at its default settings (8 frames),
// scored by the motion checker. A clip longer than the motion modules take
// is refused.
func TestShippedVideo(t *testing.T) {
	p := open(t, "video")
	ctx := context.Background()
	var cases []evaluate.MotionCase
	for i, prompt := range shapes.HeldOutMotionPrompts(videoTestClips) {
		res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{prompt}, Seed: uint64(i), Frames: 8})
		if err != nil {
			t.Fatal(err)
		}
		if res.Frames != 8 || res.H != 32 || res.W != 32 {
			t.Fatalf("clip of %d frames of %dx%d, want 8 of 32x32", res.Frames, res.W, res.H)
		}
		cases = append(cases, evaluate.MotionCase{Clip: videoio.Clip{Frames: res.Images, F: res.Frames, H: res.H, W: res.W, FPS: res.FPS}, Prompt: prompt})
	}
	rep, err := evaluate.EvaluateMotion(cases)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stable.Rate() < videoMinStable || rep.Flicker > videoMaxFlicker {
		t.Errorf("builtin:video on %d held-out prompts:\n%s", videoTestClips, rep)
	}
	_, err = p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle moving from left to right"}, Frames: 17})
	if err == nil || !strings.Contains(err.Error(), "at most 16 frames") {
		t.Errorf("17 frames: got %v, want a refusal naming the limit of 16", err)
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
	_, err = p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: "DDPMScheduler"})
	if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "LCMScheduler only") {
		t.Errorf("DDPMScheduler: %v, want a bad request naming LCMScheduler", err)
	}
}

// The DiT guards' bounds, well below the README's 300-prompt figures
// (builtin:dit 68.2 / 29.1 / 36.4% color / shape / position, dit-1step
// 57.2 / 24.4 / 37.7%) to leave room for the noise of 40 prompts.
const (
	ditMinColor, ditMinShape, ditMinPosition    = 0.5, 0.15, 0.2
	dit1MinColor, dit1MinShape, dit1MinPosition = 0.4, 0.12, 0.2
)

// TestShippedDiT guards the rectified-flow DiTs: at their defaults (the
// 1-RF 25 steps with guidance, the reflowed 2-RF one step without) their
// pictures follow 40 held-out prompts (bounds below the README's
// 300-prompt figures), and a sampler other than FlowMatchEuler is refused.
func TestShippedDiT(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		color, shape, position float64
	}{
		{"dit", ditMinColor, ditMinShape, ditMinPosition},
		{"dit-1step", dit1MinColor, dit1MinShape, dit1MinPosition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := open(t, tc.name)
			rep, err := evaluate.Run(context.Background(), p, tc.name, evaluate.Options{N: 40, NoFrechet: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Color < tc.color || rep.Shape < tc.shape || rep.Position < tc.position {
				t.Errorf("builtin:%s on 40 held-out prompts: %s", tc.name, rep.Text)
			}
			_, err = p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: "EulerDiscreteScheduler"})
			if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "FlowMatchEulerDiscreteScheduler only") {
				t.Errorf("EulerDiscreteScheduler: %v, want a bad request naming FlowMatchEulerDiscreteScheduler", err)
			}
		})
	}
}
