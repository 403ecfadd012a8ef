package defaultmodel_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

// These tests run the model through package pipeline, which imports
// package builtin (for the cascade's builtin:sr stage), which imports this
// package: they live outside it.

func TestDefaultModelGenerates(t *testing.T) {
	testort.Init(t)
	dir, err := defaultmodel.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := defaultmodel.Defaults()
	for _, tc := range []struct {
		prompt string
		size   int
	}{
		{"a red circle above a blue square", 32},
		{"zebra quantum xylophone", 32},
		{"a red circle above a blue square", d.Width}, // through the cascade's stage
	} {
		t.Run(fmt.Sprint(tc.prompt, " ", tc.size), func(t *testing.T) {
			res, err := p.Generate(context.Background(), pipeline.Request{
				Prompts: []string{tc.prompt}, Scheduler: d.Scheduler, Steps: d.Steps, Guidance: d.Guidance, Width: tc.size, Height: tc.size, Seed: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.N != 1 || res.H != tc.size || res.W != tc.size || len(res.Images) != tc.size*tc.size*3 {
				t.Fatalf("got %d images of %dx%d (%d values), want one %dx%d", res.N, res.H, res.W, len(res.Images), tc.size, tc.size)
			}
			if staged := res.Stage != nil; staged != (tc.size != 32) {
				t.Errorf("stage %+v at %dx%d: want one only above the model's own 32x32", res.Stage, tc.size, tc.size)
			}
			var mean, sq float64
			for _, v := range res.Images {
				if v < 0 || v > 1 || math.IsNaN(float64(v)) {
					t.Fatalf("pixel value %v outside [0, 1]", v)
				}
				mean += float64(v)
				sq += float64(v) * float64(v)
			}
			n := float64(len(res.Images))
			if std := math.Sqrt(sq/n - (mean/n)*(mean/n)); std < 0.05 {
				t.Errorf("picture is flat (std %.3f): no shape drawn", std)
			}
		})
	}
}

// TestAPIUsesTheFolderDefaults checks that an embedding program that sets
// nothing gets the settings the CLI uses (they travel in model_index.json),
// and that they agree with the models.yaml entry.
func TestAPIUsesTheFolderDefaults(t *testing.T) {
	testort.Init(t)
	dir, err := defaultmodel.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Generate(context.Background(), pipeline.Request{Prompts: []string{"a green heart"}, Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	d := defaultmodel.Defaults()
	if res.Guidance != *d.Guidance || res.Scheduler != d.Scheduler || res.W != d.Width {
		t.Fatalf("API run: guidance %v, %s, %d px; models.yaml says %v, %s, %d px", res.Guidance, res.Scheduler, res.W, *d.Guidance, d.Scheduler, d.Width)
	}
}
