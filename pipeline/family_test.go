package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

func TestVAEFamilyGenerate(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	if p.Family() != pipeline.FamilyVAE || p.Class() != "ImagegenVAEPipeline" {
		t.Fatalf("family %s class %s, want vae / ImagegenVAEPipeline", p.Family(), p.Class())
	}
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red circle at the left", "a blue star"}, NumImages: 2, Seed: 7}
	a, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 4 || a.H != 32 || a.W != 32 || len(a.Images) != 4*32*32*3 {
		t.Fatalf("got %d images of %dx%d (%d values), want 4 of 32x32", a.N, a.W, a.H, len(a.Images))
	}
	b, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Images {
		if a.Images[i] != b.Images[i] {
			t.Fatalf("same seed: value %d differs (%v, %v)", i, a.Images[i], b.Images[i])
		}
		if a.Images[i] < 0 || a.Images[i] > 1 {
			t.Fatalf("value %d = %v outside [0, 1]", i, a.Images[i])
		}
	}
	req.Seed = 8
	c, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range a.Images {
		if a.Images[i] == c.Images[i] {
			same++
		}
	}
	if same == len(a.Images) {
		t.Fatal("seeds 7 and 8 gave the same pictures")
	}
}

func TestVAEFamilyBadRequests(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	g := 3.0
	tests := []struct {
		name string
		req  pipeline.Request
		want string
	}{
		{"no prompt", pipeline.Request{}, "no prompt"},
		{"outside the vocabulary", pipeline.Request{Prompts: []string{"a photo of a cat"}}, "shapes vocabulary"},
		{"steps", pipeline.Request{Prompts: []string{"a red circle"}, Steps: 20}, "steps do not apply"},
		{"scheduler", pipeline.Request{Prompts: []string{"a red circle"}, Scheduler: "DDIM"}, "no scheduler"},
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

func heldOut(t *testing.T, n int) ([]image.Image, []string) {
	t.Helper()
	var imgs []image.Image
	var caps []string
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, s.Image)
		caps = append(caps, s.Caption)
	}
	return imgs, caps
}

func TestVAEFamilyLikelihood(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	imgs, caps := heldOut(t, 3)
	ctx := context.Background()
	one, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Bits/dim of 8-bit data lie in (0, ∞); a random decoder is far from
	// good but finite. IWAE_64 is a tighter bound than the ELBO.
	for _, v := range []float64{one.ELBOBitsPerDim, one.IWAEBitsPerDim, many.ELBOBitsPerDim, many.IWAEBitsPerDim} {
		if !(v > 0) || v > 1e6 {
			t.Fatalf("bits/dim %v not a positive finite number", v)
		}
	}
	if many.IWAEBitsPerDim > many.ELBOBitsPerDim+1e-9 {
		t.Errorf("IWAE_64 %.4f bits/dim above the ELBO's %.4f", many.IWAEBitsPerDim, many.ELBOBitsPerDim)
	}
	if _, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps[:1]}); !errors.Is(err, pipeline.ErrBadRequest) {
		t.Errorf("one prompt for three pictures: got %v, want ErrBadRequest", err)
	}
}

func TestVQVAEFamilyCodes(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVQVAE)
	ctx := context.Background()
	imgs, _ := heldOut(t, 2)
	codes, err := p.EncodeImages(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if codes.N != 2 || codes.H != familytest.CodeGrid || codes.W != familytest.CodeGrid || len(codes.Indices) != 2*64 {
		t.Fatalf("codes [%d %d %d] with %d values, want [2 8 8]", codes.N, codes.H, codes.W, len(codes.Indices))
	}
	for _, v := range codes.Indices {
		if v < 0 || v >= familytest.CodebookSize {
			t.Fatalf("code %d outside the codebook", v)
		}
	}
	res, err := p.DecodeCodes(ctx, codes)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 2 || res.H != 32 || res.W != 32 {
		t.Fatalf("decoded %d pictures of %dx%d", res.N, res.W, res.H)
	}
	// Decoding is a function of the codes: the same codes, the same picture.
	again, _ := p.DecodeCodes(ctx, &pipeline.Codes{Indices: codes.Indices[:64], N: 1, H: 8, W: 8})
	for i := range again.Images {
		if again.Images[i] != res.Images[i] {
			t.Fatalf("value %d differs between decodes of the same codes", i)
		}
	}
	bad := append([]int64(nil), codes.Indices[:64]...)
	bad[10] = familytest.CodebookSize
	for name, c := range map[string]*pipeline.Codes{
		"outside the codebook": {Indices: bad, N: 1, H: 8, W: 8},
		"wrong grid":           {Indices: make([]int64, 16), N: 1, H: 4, W: 4},
	} {
		if _, err := p.DecodeCodes(ctx, c); !errors.Is(err, pipeline.ErrBadRequest) {
			t.Errorf("%s: got %v, want ErrBadRequest", name, err)
		}
	}
	if _, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}}); !errors.Is(err, pipeline.ErrNotSupported) {
		t.Errorf("Generate on a VQ-VAE: got %v, want ErrNotSupported", err)
	}
}

func TestLoadFamilyErrors(t *testing.T) {
	testort.Init(t)
	ctx := context.Background()
	t.Run("unknown class", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "model_index.json"), []byte(`{"_class_name": "ImagegenTeleportPipeline"}`), 0o644)
		_, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), "ImagegenVAEPipeline") {
			t.Fatalf("got %v, want ErrNotCheckpoint listing the known classes", err)
		}
	})
	t.Run("missing component", func(t *testing.T) {
		dir := t.TempDir()
		if err := familytest.WriteVQVAE(dir, 1); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(dir, "vq_decoder", "model.onnx"))
		_, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), filepath.Join("vq_decoder", "model.onnx")) {
			t.Fatalf("got %v, want ErrNotCheckpoint naming vq_decoder/model.onnx", err)
		}
	})
	t.Run("wrong input shape", func(t *testing.T) {
		dir := t.TempDir()
		if err := familytest.WriteVAE(dir, 1); err != nil {
			t.Fatal(err)
		}
		// The config says 16 latent dimensions; the decoder takes 8.
		path := filepath.Join(dir, "decoder", "config.json")
		var cfg map[string]any
		raw, _ := os.ReadFile(path)
		json.Unmarshal(raw, &cfg)
		cfg["latent_dim"] = 16
		raw, _ = json.Marshal(cfg)
		os.WriteFile(path, raw, 0o644)
		_, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), "latent") || !strings.Contains(err.Error(), "decoder") {
			t.Fatalf("got %v, want ErrNotCheckpoint naming the decoder's latent input", err)
		}
	})
}

func TestDefaultsTravelWithTheFolder(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	if h, w := p.DefaultSize(); h != 32 || w != 32 {
		t.Fatalf("default size %dx%d, want 32x32 from imagegen_defaults", w, h)
	}
}

func TestVAEFamilyMixturePrior(t *testing.T) {
	plain := familytest.Load(t, familytest.WriteVAE)
	p := familytest.Load(t, familytest.WriteVAEWithPrior)
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red circle at the left"}, NumImages: 2, Seed: 4}
	a, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := plain.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for i := range a.Latents {
		if a.Latents[i] != b.Latents[i] {
			t.Fatalf("same seed: latent %d differs", i)
		}
		if a.Latents[i] != n.Latents[i] {
			differs = true
		}
	}
	if !differs {
		t.Error("the mixture prior drew the same latents as N(0, I)")
	}
	imgs, caps := heldOut(t, 2)
	l, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: imgs, Prompts: caps, Samples: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !(l.ELBOBitsPerDim > 0) || l.IWAEBitsPerDim > l.ELBOBitsPerDim+1e-9 || math.IsNaN(l.KL) {
		t.Errorf("with the mixture prior: ELBO %v, IWAE_16 %v, KL %v", l.ELBOBitsPerDim, l.IWAEBitsPerDim, l.KL)
	}
}
