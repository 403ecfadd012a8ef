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

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/pipeline"
)

func TestGANFamilyGenerate(t *testing.T) {
	p := familytest.Load(t, familytest.WriteGAN)
	if p.Family() != pipeline.FamilyGAN || p.Class() != "ImagegenGANPipeline" {
		t.Fatalf("family %s class %s, want gan / ImagegenGANPipeline", p.Family(), p.Class())
	}
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red circle at the left", "a blue star"}, NumImages: 2, Seed: 7}
	a, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 4 || a.H != 32 || a.W != 32 || len(a.Images) != 4*32*32*3 || a.ModelFamily != pipeline.FamilyGAN {
		t.Fatalf("got %d images of %dx%d (%d values, family %s), want 4 of 32x32", a.N, a.W, a.H, len(a.Images), a.ModelFamily)
	}
	if len(a.Latents) != 4*familytest.LatentDim {
		t.Fatalf("got %d latent values, want %d", len(a.Latents), 4*familytest.LatentDim)
	}
	b, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Images {
		if a.Images[i] != b.Images[i] {
			t.Fatalf("same seed: value %d differs (%v, %v)", i, a.Images[i], b.Images[i])
		}
	}
}

// TestGANFamilyTruncation checks that ψ scales the noise toward its mean:
// the latents of ψ = 0.5 are half those of ψ = 1 for the same seed, and
// ψ = 1 is the default.
func TestGANFamilyTruncation(t *testing.T) {
	p := familytest.Load(t, familytest.WriteGAN)
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a green square"}, Seed: 3}
	def, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, psi := range []float64{1, 0.5} {
		req.Truncation = psi
		got, err := p.Generate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for i, z := range got.Latents {
			if want := def.Latents[i] * float32(psi); math.Abs(float64(z-want)) > 1e-6 {
				t.Fatalf("ψ %g: latent %d = %v, want %v", psi, i, z, want)
			}
		}
		changed := false
		for i := range got.Images {
			changed = changed || got.Images[i] != def.Images[i]
		}
		if changed != (psi != 1) {
			t.Errorf("ψ %g: pictures changed = %v, want %v", psi, changed, psi != 1)
		}
	}
}

func TestGANFamilyBadRequests(t *testing.T) {
	p := familytest.Load(t, familytest.WriteGAN)
	g := 3.0
	tests := []struct {
		name string
		req  pipeline.Request
		want string
	}{
		{"no prompt", pipeline.Request{}, "no prompt"},
		{"outside the vocabulary", pipeline.Request{Prompts: []string{"a photo of a cat"}}, "shapes vocabulary"},
		{"truncation above 1", pipeline.Request{Prompts: []string{"a red circle"}, Truncation: 1.5}, "truncation must be in (0, 1]"},
		{"negative truncation", pipeline.Request{Prompts: []string{"a red circle"}, Truncation: -0.2}, "truncation must be in (0, 1]"},
		{"NaN truncation", pipeline.Request{Prompts: []string{"a red circle"}, Truncation: math.NaN()}, "truncation must be in (0, 1]"},
		{"steps", pipeline.Request{Prompts: []string{"a red circle"}, Steps: 20}, "steps do not apply"},
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

// TestTruncationOtherFamilies checks that a family without truncation
// refuses it rather than ignoring it.
func TestTruncationOtherFamilies(t *testing.T) {
	p := familytest.Load(t, familytest.WriteVAE)
	_, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a red circle"}, Truncation: 0.7})
	if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "no truncation") {
		t.Fatalf("got %v, want ErrBadRequest about truncation", err)
	}
}

// TestGANFamilyDefaultTruncation checks the folder's default_truncation:
// the ψ of requests that set none, and refused at load outside (0, 1].
func TestGANFamilyDefaultTruncation(t *testing.T) {
	write := func(t *testing.T, psi float64) string {
		dir := filepath.Join(t.TempDir(), "gan")
		if err := familytest.WriteGAN(dir, 1); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "generator", "config.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["default_truncation"] = psi
		if raw, err = json.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	ctx := context.Background()
	plain := familytest.Load(t, familytest.WriteGAN)
	half := familytest.LoadDir(t, write(t, 0.5))
	req := pipeline.Request{Prompts: []string{"a blue heart"}, Seed: 9}
	a, err := plain.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := half.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Latents {
		if b.Latents[i] != a.Latents[i]*0.5 {
			t.Fatalf("latent %d = %v with default ψ 0.5, want %v", i, b.Latents[i], a.Latents[i]*0.5)
		}
	}
	if _, err := pipeline.Load(ctx, write(t, 1.5), pipeline.Options{}); !errors.Is(err, pipeline.ErrNotCheckpoint) {
		t.Errorf("default_truncation 1.5: got %v, want ErrNotCheckpoint", err)
	}
}
