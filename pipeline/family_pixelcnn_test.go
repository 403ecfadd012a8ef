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
	req := pipeline.Request{Prompts: []string{"a green square"}, Seed: 3, Temperature: one}
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

	// A batch of two prompts, two pictures each, near temperature 0,
	// without and with classifier-free guidance.
	prompts := []string{"a red circle at the top left", "a blue star"}
	logit := familytest.PixelCNNLogit(pixelcnnSeed)
	empty, err := shapes.Condition("")
	if err != nil {
		t.Fatal(err)
	}
	cold := 1e-4
	for _, w := range []float64{1, 2.5} {
		res, err := p.Generate(ctx, pipeline.Request{Prompts: prompts, NumImages: 2, Seed: 4, Temperature: cold, Guidance: &w})
		if err != nil {
			t.Fatal(err)
		}
		if res.Guidance != w || res.Temperature != cold {
			t.Errorf("result says guidance %v temperature %v, want %v and %v", res.Guidance, res.Temperature, w, cold)
		}
		for b := range res.N {
			c, err := shapes.Condition(prompts[b/2])
			if err != nil {
				t.Fatal(err)
			}
			want := greedy(logit, c, empty, w)
			for pix := range 32 * 32 {
				for ch := range 3 {
					got := int(math.Round(float64(res.Images[(b*32*32+pix)*3+ch]) * 255))
					if got != want[pix*3+ch] {
						t.Fatalf("guidance %v: picture %d subpixel (%d, %d, %d) = %d, want the greedy %d", w, b, pix/32, pix%32, ch, got, want[pix*3+ch])
					}
				}
			}
		}
	}
}

// greedy draws the reference model's most likely picture subpixel by
// subpixel under guidance w (the logits ℓ_u + w·(ℓ_c − ℓ_u) of the
// conditions c and empty), as 8-bit values in HWC order.
func greedy(logit func(x, c []float32, ch, k, y, i int) float32, c, empty []float32, w float64) []int {
	x := make([]float32, 3*32*32)
	out := make([]int, 3*32*32)
	guided := func(ch, k, y, i int) float64 {
		u := float64(logit(x, empty, ch, k, y, i))
		return u + w*(float64(logit(x, c, ch, k, y, i))-u)
	}
	for y := range 32 {
		for i := range 32 {
			for ch := range 3 {
				best := 0
				for k := 1; k < 256; k++ {
					if guided(ch, k, y, i) > guided(ch, best, y, i) {
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
	neg, inf, half := -1.0, math.Inf(1), 0.5
	tests := []struct {
		name string
		req  pipeline.Request
		want string
	}{
		{"no prompt", pipeline.Request{}, "no prompt"},
		{"outside the vocabulary", pipeline.Request{Prompts: []string{"a photo of a cat"}}, "shapes vocabulary"},
		{"negative temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: neg}, "temperature must be a finite number > 0, got -1"},
		{"infinite temperature", pipeline.Request{Prompts: []string{"a red circle"}, Temperature: inf}, "temperature must be"},
		{"steps", pipeline.Request{Prompts: []string{"a red circle"}, Steps: 20}, "steps do not apply"},
		{"sampler", pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: "DDIM"}, `sampler "DDIM"`},
		{"guidance below 1", pipeline.Request{Prompts: []string{"a red circle"}, Guidance: &half}, "guidance scale must be a finite number ≥ 1"},
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

// BenchmarkPixelCNNSampling times one picture of the tiny test checkpoint
// with each sampler (the shipped model's figures are in
// scripts/train_pixelcnn/README.md).
func BenchmarkPixelCNNSampling(b *testing.B) {
	p := familytest.Load(b, familytest.WritePixelCNN)
	for _, sampler := range []string{pipeline.PixelCNNCached, pipeline.PixelCNNNaive} {
		b.Run(sampler, func(b *testing.B) {
			req := pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: sampler}
			for i := 0; i < b.N; i++ {
				req.Seed = uint64(i)
				if _, err := p.Generate(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
