package defaultmodel

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/internal/embedcache"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

func TestDirWritesEmbeddedFilesOnce(t *testing.T) {
	cache := t.TempDir()
	dir, err := Dir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(dir), "imagegen-shapes-") || filepath.Dir(dir) != cache {
		t.Fatalf("Dir = %s, want imagegen-shapes-HASH under %s", dir, cache)
	}
	want, err := Hash()
	if err != nil {
		t.Fatal(err)
	}
	got, err := embedcache.Hash(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("written folder hashes to %s, embedded files to %s", got, want)
	}
	for _, f := range []string{"model_index.json", "unet/model.onnx", "text_encoder/model.onnx", "vae_decoder/model.onnx", "tokenizer/vocab.json", "scheduler/scheduler_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// A second call reuses the folder: a marker file survives.
	marker := filepath.Join(dir, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Dir(cache)
	if err != nil || again != dir {
		t.Fatalf("second Dir = %s, %v; want %s", again, err, dir)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("second Dir rewrote the folder: %v", err)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want 1 (no temporary folder left)", len(entries))
	}
}

func TestDirConcurrent(t *testing.T) {
	cache := t.TempDir()
	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = Dir(cache) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("call %d: %s, %v; call 0: %s", i, dirs[i], errs[i], dirs[0])
		}
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries after racing writers, want 1", len(entries))
	}
}

func TestDirUnwritableCache(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(filepath.Join(file, "sub")); err == nil || !strings.HasPrefix(err.Error(), "defaultmodel:") {
		t.Fatalf("Dir under a file: got %v, want a defaultmodel: error", err)
	}
}

func TestDefaultModelGenerates(t *testing.T) {
	testort.Init(t)
	dir, err := Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := Defaults()
	for _, prompt := range []string{"a red circle above a blue square", "zebra quantum xylophone"} {
		t.Run(prompt, func(t *testing.T) {
			res, err := p.Generate(context.Background(), pipeline.Request{
				Prompts: []string{prompt}, Scheduler: d.Scheduler, Steps: d.Steps, Guidance: d.Guidance, Width: d.Width, Height: d.Height, Seed: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.N != 1 || res.H != 32 || res.W != 32 || len(res.Images) != 32*32*3 {
				t.Fatalf("got %d images of %dx%d (%d values), want one 32x32", res.N, res.H, res.W, len(res.Images))
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

// TestDefaultsFromModelsYAML checks that the built-in models.yaml carries
// the model's entry with a complete set of defaults at the training size.
func TestDefaultsFromModelsYAML(t *testing.T) {
	d := Defaults()
	if d.Scheduler == "" || d.Steps < 1 || d.Guidance == nil || d.Width != 32 || d.Height != 32 {
		t.Fatalf("defaults %+v: want a scheduler, steps, guidance and 32x32 from the \"default\" entry of models.yaml", d)
	}
}

// TestAPIUsesTheFolderDefaults checks that an embedding program that sets
// nothing gets the settings the CLI uses (they travel in model_index.json),
// and that they agree with the models.yaml entry.
func TestAPIUsesTheFolderDefaults(t *testing.T) {
	testort.Init(t)
	dir, err := Dir(t.TempDir())
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
	d := Defaults()
	if res.Guidance != *d.Guidance || res.Scheduler != d.Scheduler || res.W != d.Width {
		t.Fatalf("API run: guidance %v, %s, %d px; models.yaml says %v, %s, %d px", res.Guidance, res.Scheduler, res.W, *d.Guidance, d.Scheduler, d.Width)
	}
}
