package builtin

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEveryBuiltinIsEmbedded(t *testing.T) {
	for _, m := range All() {
		st, err := m.Stats()
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		// One component is enough: a GAN ships its generator alone.
		if st.Parameters < 100_000 || st.Bytes < st.Parameters || len(st.Components) < 1 {
			t.Errorf("%s: %+v: want a real model with its components", m.Name, st)
		}
	}
}

func TestDirWritesOnce(t *testing.T) {
	m, err := ByName("vqvae")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	dir, err := m.Dir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model_index.json", "vq_encoder/model.onnx", "vq_decoder/config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	again, err := m.Dir(cache)
	if err != nil || again != dir {
		t.Fatalf("second Dir = %s, %v; want %s", again, err, dir)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("cache holds %d entries, want 1", len(entries))
	}
}
