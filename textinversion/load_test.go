package textinversion

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/safetensors"
)

// TestLoadTorch reads testdata/a1111.pt (written by testdata/make_pt.py in
// torch.save's layout): a [2, 4] parameter under string_to_param["*"],
// starting one element into its storage.
func TestLoadTorch(t *testing.T) {
	e, err := Load("testdata/a1111.pt")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "a1111" || e.Count("") != 2 || e.Dims[""] != 4 {
		t.Fatalf("got %s with %d vectors of %d", e.Name, e.Count(""), e.Dims[""])
	}
	for i, v := range e.Vectors[""] {
		if want := 0.5*float32(i) - 1; v != want {
			t.Errorf("value %d = %v, want %v", i, v, want)
		}
	}
}

func TestLoadSafetensors(t *testing.T) {
	dir := t.TempDir()
	sd := filepath.Join(dir, "style.safetensors")
	safetensors.WriteFile(sd, map[string]safetensors.Tensor{"emb_params": {Shape: []int64{3, 8}, Data: make([]float32, 24)}}, nil)
	e, err := Load(sd)
	if err != nil || e.Name != "style" || e.Count("") != 3 || e.Dims[""] != 8 {
		t.Fatalf("got %+v, %v", e, err)
	}
	xl := filepath.Join(dir, "xl.safetensors")
	safetensors.WriteFile(xl, map[string]safetensors.Tensor{
		"clip_l": {Shape: []int64{2, 8}, Data: make([]float32, 16)},
		"clip_g": {Shape: []int64{2, 16}, Data: make([]float32, 32)}}, nil)
	if e, err = Load(xl); err != nil || e.Count("clip_l") != 2 || e.Dims["clip_g"] != 16 {
		t.Fatalf("SDXL pair: got %+v, %v", e, err)
	}
	other := filepath.Join(dir, "other.safetensors")
	safetensors.WriteFile(other, map[string]safetensors.Tensor{"a": {Shape: []int64{2}, Data: []float32{1, 2}}, "b": {Shape: []int64{2}, Data: []float32{1, 2}}}, nil)
	if _, err := Load(other); !errors.Is(err, ErrFormat) {
		t.Errorf("no embedding tensor: got %v, want ErrFormat", err)
	}
	bad := filepath.Join(dir, "bad.pt")
	os.WriteFile(bad, []byte("not a zip"), 0o644)
	if _, err := Load(bad); !errors.Is(err, ErrFormat) {
		t.Errorf("bad .pt: got %v, want ErrFormat", err)
	}
}

func FuzzUnpickle(f *testing.F) {
	if b, err := os.ReadFile("testdata/a1111.pt"); err == nil {
		f.Add(b[:min(len(b), 400)])
	}
	f.Add([]byte{0x80, 2, '}', 'q', 0, '.'})
	f.Fuzz(func(t *testing.T, b []byte) {
		unpickle(b) // must not panic
	})
}
