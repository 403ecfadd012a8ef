package pipeline_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

var (
	sd1Once sync.Once
	sd1     *pipeline.Pipeline
	sd1Err  error
)

// loadSD1 shares one sd1-tiny pipeline among the tests of this file.
func loadSD1(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	sd1Once.Do(func() { sd1, sd1Err = pipeline.Load(context.Background(), dir, pipeline.Options{}) })
	if sd1Err != nil {
		t.Fatal(sd1Err)
	}
	return sd1
}

func gradient(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(8 * x), uint8(8 * y), 128, 255})
		}
	}
	return img
}

func halfMask(w, h int) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := w / 2; x < w; x++ {
			img.SetGray(x, y, color.Gray{255})
		}
	}
	return img
}

func TestBadRequests(t *testing.T) {
	p := loadSD1(t)
	g := 7.5
	tests := []struct {
		name string
		req  pipeline.Request
		want string
	}{
		{"no prompt", pipeline.Request{}, "no prompt"},
		{"size not multiple", pipeline.Request{Prompts: []string{"a"}, Height: 33, Width: 32}, "multiples of 2"},
		{"negative steps", pipeline.Request{Prompts: []string{"a"}, Steps: -1}, "steps"},
		{"strength without image", pipeline.Request{Prompts: []string{"a"}, Strength: 0.5}, "init image"},
		{"strength out of range", pipeline.Request{Prompts: []string{"a"}, InitImage: gradient(32, 32), Strength: 1.5}, "strength"},
		{"mask without image", pipeline.Request{Prompts: []string{"a"}, Mask: halfMask(32, 32)}, "init image"},
		{"mask size", pipeline.Request{Prompts: []string{"a"}, InitImage: gradient(32, 32), Mask: halfMask(16, 16)}, "same size"},
		{"second prompt on SD1", pipeline.Request{Prompts: []string{"a"}, Prompt2: "b"}, "one text encoder"},
		{"T5 length on SD1", pipeline.Request{Prompts: []string{"a"}, MaxSequenceLength: 77}, "T5"},
		{"rescale", pipeline.Request{Prompts: []string{"a"}, GuidanceRescale: 2, Guidance: &g}, "rescale"},
		{"unknown scheduler", pipeline.Request{Prompts: []string{"a"}, Scheduler: "NoSuchScheduler", Steps: 2}, "NoSuchScheduler"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Generate(context.Background(), tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestBatchAndDeterminism(t *testing.T) {
	p := loadSD1(t)
	req := pipeline.Request{Prompts: []string{"a red circle", "a blue square"}, NumImages: 2, Steps: 3, Seed: 5, Scheduler: "Euler", Width: 48, Height: 32}
	a, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 4 || a.H != 32 || a.W != 48 || len(a.Images) != 4*32*48*3 {
		t.Fatalf("got N=%d %dx%d (%d values), want 4 images of 48x32", a.N, a.W, a.H, len(a.Images))
	}
	b, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Images {
		if a.Images[i] != b.Images[i] {
			t.Fatalf("same request, different images at %d", i)
		}
	}
	// The two images of one prompt differ (different noise), and so do the
	// prompts.
	per := 32 * 48 * 3
	if equal(a.Images[:per], a.Images[per:2*per]) || equal(a.Images[:per], a.Images[2*per:3*per]) {
		t.Error("batch entries are identical")
	}
	if a.DenoiserCalls != 3 {
		t.Errorf("denoiser calls: got %d, want 3 (CFG runs batched)", a.DenoiserCalls)
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestImg2ImgAndInpaint(t *testing.T) {
	p := loadSD1(t)
	init := gradient(32, 32)
	t.Run("img2img strength trims the schedule", func(t *testing.T) {
		res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"x"}, InitImage: init, Strength: 0.5, Steps: 10, Scheduler: "DDIM"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Timesteps) != 5 {
			t.Errorf("strength 0.5 of 10 steps ran %d steps, want 5", len(res.Timesteps))
		}
	})
	t.Run("inpainting keeps the unmasked half close to the init latents", func(t *testing.T) {
		res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"x"}, InitImage: init, Mask: halfMask(32, 32), Steps: 4, Scheduler: "DDIM"})
		if err != nil {
			t.Fatal(err)
		}
		if res.N != 1 || len(res.Images) != 32*32*3 {
			t.Fatalf("got %d images", res.N)
		}
	})
	t.Run("tiny strength leaves no step", func(t *testing.T) {
		_, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"x"}, InitImage: init, Strength: 0.01, Steps: 10, Scheduler: "DDIM"})
		if !errors.Is(err, pipeline.ErrBadRequest) {
			t.Fatalf("got %v, want ErrBadRequest", err)
		}
	})
}

func TestCancel(t *testing.T) {
	p := loadSD1(t)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"x"}, Steps: 20, Progress: func(s pipeline.StepInfo) {
		calls++
		if s.Step == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("got %v after %d steps, want context.Canceled after 2", err, calls)
	}
}

func TestLoadErrors(t *testing.T) {
	testort.Init(t)
	if _, err := pipeline.Load(context.Background(), t.TempDir(), pipeline.Options{}); !errors.Is(err, pipeline.ErrNotCheckpoint) && err == nil {
		t.Fatalf("empty folder: got %v", err)
	}
	if _, err := pipeline.Load(context.Background(), "/no/such/folder", pipeline.Options{}); err == nil {
		t.Fatal("missing folder loaded")
	}
}

// TestLowMemSameImage checks that holding one model at a time changes
// nothing in the result.
func TestLowMemSameImage(t *testing.T) {
	p := loadSD1(t)
	low, err := pipeline.Load(context.Background(), p.Dir(), pipeline.Options{LowMem: true})
	if err != nil {
		t.Fatal(err)
	}
	defer low.Close()
	for _, req := range []pipeline.Request{
		{Prompts: []string{"a red circle"}, Steps: 3, Seed: 2, Scheduler: "Euler a"},
		{Prompts: []string{"a red circle"}, Steps: 3, Seed: 2, InitImage: gradient(32, 32), Strength: 0.7},
	} {
		a, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := low.Generate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !equal(a.Images, b.Images) {
			t.Error("low-memory mode changed the image")
		}
	}
}

// TestPerPromptSeeds checks that a batch whose prompts carry their own seeds
// gives each prompt the pictures of its separate run, with a deterministic
// and with a stochastic (ancestral) sampler, which draws noise every step.
func TestPerPromptSeeds(t *testing.T) {
	p := loadSD1(t)
	prompts, seeds := []string{"a red circle", "a blue square", "a green heart"}, []uint64{5, 11, 5}
	for _, sched := range []string{"Euler", "EulerAncestralDiscreteScheduler"} {
		t.Run(sched, func(t *testing.T) {
			req := pipeline.Request{Prompts: prompts, Seeds: seeds, NumImages: 2, Steps: 3, Scheduler: sched}
			batch, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			per := len(batch.Images) / len(prompts)
			for i, prompt := range prompts {
				alone, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{prompt}, Seed: seeds[i], NumImages: 2, Steps: 3, Scheduler: sched})
				if err != nil {
					t.Fatal(err)
				}
				got := batch.Images[i*per : (i+1)*per]
				for k := range got {
					if d := got[k] - alone.Images[k]; d > 1e-4 || d < -1e-4 {
						t.Fatalf("prompt %d value %d: got %v in the batch, want %v as alone", i, k, got[k], alone.Images[k])
					}
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		req  pipeline.Request
	}{
		{"seed count", pipeline.Request{Prompts: prompts, Seeds: seeds[:2]}},
		{"img2img", pipeline.Request{Prompts: prompts[:1], Seeds: seeds[:1], InitImage: gradient(32, 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Generate(context.Background(), tc.req); !errors.Is(err, pipeline.ErrBadRequest) {
				t.Fatalf("got %v, want ErrBadRequest", err)
			}
		})
	}
}
