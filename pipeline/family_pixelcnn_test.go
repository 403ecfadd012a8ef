package pipeline_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// pixelcnnSeed is the seed familytest.Load writes checkpoints with.
const pixelcnnSeed = 1

// TestPixelCNNSamplersAgree checks that the cached sampler (vstack per
// row, hrow per subpixel) draws exactly the pictures of the naive one
// (the full graph per subpixel) for the same seed, and that at a
// temperature near 0 both draw the reference model's greedy picture.
func TestPixelCNNSamplersAgree(t *testing.T) {
	p := familytest.Load(t, familytest.WritePixelCNN)
	if p.Family() != pipeline.FamilyPixelCNN || p.Class() != "ImagegenPixelCNNPipeline" {
		t.Fatalf("family %s class %s, want pixelcnn / ImagegenPixelCNNPipeline", p.Family(), p.Class())
	}
	ctx := context.Background()
	one := 1.0
	req := pipeline.Request{Prompts: []string{"a green square"}, Seed: 3, Temperature: &one}
	cached, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.Scheduler = pipeline.PixelCNNNaive
	naive, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if cached.N != 1 || cached.H != 32 || cached.W != 32 || cached.Scheduler != pipeline.PixelCNNCached || naive.Scheduler != pipeline.PixelCNNNaive {
		t.Fatalf("got %d pictures of %dx%d from %q and %q", cached.N, cached.W, cached.H, cached.Scheduler, naive.Scheduler)
	}
	if want := 32 + 3*32*32; cached.DenoiserCalls != want || naive.DenoiserCalls != 3*32*32 {
		t.Errorf("model runs: cached %d (want %d), naive %d (want %d)", cached.DenoiserCalls, want, naive.DenoiserCalls, 3*32*32)
	}
	for i := range cached.Images {
		if cached.Images[i] != naive.Images[i] {
			t.Fatalf("value %d differs: cached %v, naive %v", i, cached.Images[i], naive.Images[i])
		}
	}

	// A batch of two prompts, two pictures each, near temperature 0.
	prompts := []string{"a red circle at the top left", "a blue star"}
	cold := 1e-4
	res, err := p.Generate(ctx, pipeline.Request{Prompts: prompts, NumImages: 2, Seed: 4, Temperature: &cold})
	if err != nil {
		t.Fatal(err)
	}
	logit := familytest.PixelCNNLogit(pixelcnnSeed)
	for b := range res.N {
		c, err := shapes.Condition(prompts[b/2])
		if err != nil {
			t.Fatal(err)
		}
		want := greedy(logit, c)
		for pix := range 32 * 32 {
			for ch := range 3 {
				got := int(math.Round(float64(res.Images[(b*32*32+pix)*3+ch]) * 255))
				if got != want[pix*3+ch] {
					t.Fatalf("picture %d subpixel (%d, %d, %d) = %d, want the greedy %d", b, pix/32, pix%32, ch, got, want[pix*3+ch])
				}
			}
		}
	}
}

// greedy draws the reference model's most likely picture subpixel by
// subpixel, as 8-bit values in HWC order.
func greedy(logit func(x, c []float32, ch, k, y, i int) float32, c []float32) []int {
	x := make([]float32, 3*32*32)
	out := make([]int, 3*32*32)
	for y := range 32 {
		for i := range 32 {
			for ch := range 3 {
				best := 0
				for k := 1; k < 256; k++ {
					if logit(x, c, ch, k, y, i) > logit(x, c, ch, best, y, i) {
						best = k
					}
				}
				x[(ch*32+y)*32+i] = float32(best)/127.5 - 1
				out[(y*32+i)*3+ch] = best
			}
		}
	}
	return out
}

// TestPixelCNNLikelihoodIsExact compares the family's bits/dim with the
// reference model's −Σ log softmax over the pictures' subpixels.
func TestPixelCNNLikelihoodIsExact(t *testing.T) {
	p := familytest.Load(t, familytest.WritePixelCNN)
	imgs, caps := heldOut(t, 2)
	res, err := p.Likelihood(context.Background(), pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 64})
	if err != nil {
		t.Fatal(err)
	}
	logit := familytest.PixelCNNLogit(pixelcnnSeed)
	total := 0.0
	for n, img := range imgs {
		x, err := imageio.ImageTensor(img, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		c, err := shapes.Condition(caps[n])
		if err != nil {
			t.Fatal(err)
		}
		for ch := range 3 {
			for y := range 32 {
				for i := range 32 {
					v := int(math.Round((float64(x[(ch*32+y)*32+i]) + 1) * 127.5))
					m, sum := math.Inf(-1), 0.0
					for k := range 256 {
						m = math.Max(m, float64(logit(x, c, ch, k, y, i)))
					}
					for k := range 256 {
						sum += math.Exp(float64(logit(x, c, ch, k, y, i)) - m)
					}
					total += float64(logit(x, c, ch, v, y, i)) - m - math.Log(sum)
				}
			}
		}
	}
	want := -total / (2 * 3 * 32 * 32 * math.Ln2)
	if !res.Exact || res.ELBOBitsPerDim != res.IWAEBitsPerDim || math.Abs(res.ELBOBitsPerDim-want) > 1e-4*want {
		t.Fatalf("got exact %v, ELBO %.6f, IWAE %.6f bits/dim; want exact, both %.6f", res.Exact, res.ELBOBitsPerDim, res.IWAEBitsPerDim, want)
	}
}

func TestPixelCNNBadRequests(t *testing.T) {
	p := familytest.Load(t, familytest.WritePixelCNN)
	zero, neg, inf, g := 0.0, -1.0, math.Inf(1), 3.0
	tests := []struct {
		name string
		req  pipeline.Request
		want string
	}{
		{"no prompt", pipeline.Request{}, "no prompt"},
		{"outside the vocabulary", pipeline.Request{Prompts: []string{"a photo of a cat"}}, "shapes vocabulary"},
		{"temperature 0", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: &zero}, "temperature must be a finite number > 0, got 0"},
		{"negative temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: &neg}, "temperature must be a finite number > 0, got -1"},
		{"infinite temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: &inf}, "temperature must be"},
		{"steps", pipeline.Request{Prompts: []string{"a red circle"}, Steps: 20}, "steps do not apply"},
		{"sampler", pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: "DDIM"}, `sampler "DDIM"`},
		{"guidance", pipeline.Request{Prompts: []string{"a red circle"}, Guidance: &g}, "no guidance"},
		{"size", pipeline.Request{Prompts: []string{"a red circle"}, Height: 64, Width: 64}, "only makes 32x32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Generate(context.Background(), tt.req)
			if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrBadRequest containing %q", err, tt.want)
			}
		})
	}
}
