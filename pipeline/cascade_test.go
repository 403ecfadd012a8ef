package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/upscale"
)

// cascadeCheckpoint writes builtin:default's folder with its
// imagegen_cascade replaced by cascade (nil removes it) and a random-weight
// stage in its sr/ subfolder.
func cascadeCheckpoint(t *testing.T, cascade any) string {
	t.Helper()
	testort.Init(t)
	dir, err := defaultmodel.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stage := upscaletest.Stage{LowRes: 32, Scale: 4, Steps: 2, NoiseLevel: 20, MaxNoiseLevel: 250}
	if err := upscaletest.WriteStage(filepath.Join(dir, "sr"), stage, 7); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model_index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	delete(idx, "imagegen_cascade")
	if cascade != nil {
		idx["imagegen_cascade"] = cascade
	}
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadCascade(t *testing.T, dir string) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestCascade(t *testing.T) {
	dir := cascadeCheckpoint(t, map[string]any{"stage": "sr", "height": 32, "width": 32})
	p := loadCascade(t, dir)
	if c := p.Cascade(); c == nil || *c != (pipeline.Cascade{Stage: "sr", Height: 32, Width: 32}) {
		t.Fatalf("Cascade() = %+v, want the model_index.json entry", c)
	}
	ctx := context.Background()
	req := pipeline.Request{Prompts: []string{"a red circle above a blue square"}, Steps: 2, Seed: 3}
	big, err := p.Generate(ctx, req) // the folder's default size: 128x128
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.StageInfo{Model: "sr", Dir: filepath.Join(dir, "sr"), Scale: 4, BaseHeight: 32, BaseWidth: 32, Steps: 2, NoiseLevel: 20}
	if big.H != 128 || big.W != 128 || len(big.Images) != 128*128*3 || big.Stage == nil || *big.Stage != want || big.Timings.Stage <= 0 {
		t.Fatalf("default size: %dx%d, %d values, stage %+v (%v); want 128x128 through %+v", big.W, big.H, len(big.Images), big.Stage, big.Timings.Stage, want)
	}
	req.Height, req.Width = 32, 32
	small, err := p.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if small.H != 32 || small.W != 32 || small.Stage != nil {
		t.Fatalf("32x32: got %dx%d with stage %+v, want the base alone", small.W, small.H, small.Stage)
	}
	// The cascade's picture is the stage run on the base's, seeded with the
	// request's seed.
	u, err := upscale.Open(ctx, filepath.Join(dir, "sr"), upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	up, err := u.UpscaleHWC(ctx, small.Images, 32, 32, upscale.RunOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range up {
		if up[i] != big.Images[i] {
			t.Fatalf("value %d: cascade %v, stage on the 32x32 picture %v", i, big.Images[i], up[i])
		}
	}
	req.Height, req.Width = 64, 64
	if _, err := p.Generate(ctx, req); !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "128x128") {
		t.Errorf("64x64: got %v, want a bad request naming 32x32 and 128x128", err)
	}
}

func TestCascadeWithoutStage(t *testing.T) {
	dir := cascadeCheckpoint(t, map[string]any{"stage": "missing", "height": 32, "width": 32})
	p := loadCascade(t, dir)
	ctx := context.Background()
	// The stage opens on first use: the base runs without it.
	if _, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a green heart"}, Steps: 1, Height: 32, Width: 32}); err != nil {
		t.Fatalf("32x32 without the stage: %v", err)
	}
	_, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a green heart"}, Steps: 1})
	if err == nil || !strings.Contains(err.Error(), "cascade stage missing") {
		t.Fatalf("128x128 without the stage: got %v, want an error naming the stage", err)
	}
}

func TestCascadeBadEntry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cascade any
	}{
		{"no stage", map[string]any{"height": 32, "width": 32}},
		{"no size", map[string]any{"stage": "sr"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := cascadeCheckpoint(t, tc.cascade)
			p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
			if err == nil {
				p.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "imagegen_cascade") {
				t.Fatalf("got %v, want an error about imagegen_cascade", err)
			}
		})
	}
}

// TestLoadStageRefused: a stage folder is not a text-to-image checkpoint,
// and Load says what it is.
func TestLoadStageRefused(t *testing.T) {
	testort.Init(t)
	dir := filepath.Join(t.TempDir(), "sr")
	if err := upscaletest.WriteStage(dir, upscaletest.Stage{LowRes: 8, Scale: 4, Steps: 2, MaxNoiseLevel: 10}, 1); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), "super-resolution stage") {
		t.Fatalf("got %v, want ErrNotCheckpoint naming a super-resolution stage", err)
	}
}
