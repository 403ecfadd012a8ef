package defaultmodel

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/internal/embedcache"
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

// TestDefaultsFromModelsYAML checks that the built-in models.yaml carries
// the model's entry with a complete set of defaults at the size of its
// cascade (the training size enlarged by builtin:sr).
func TestDefaultsFromModelsYAML(t *testing.T) {
	d := Defaults()
	if d.Scheduler == "" || d.Steps < 1 || d.Guidance == nil || d.Width != 128 || d.Height != 128 {
		t.Fatalf("defaults %+v: want a scheduler, steps, guidance and 128x128 from the \"default\" entry of models.yaml", d)
	}
}
