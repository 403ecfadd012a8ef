package builtin

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

func TestSharedFS(t *testing.T) {
	top := fstest.MapFS{
		"model_index.json":   {Data: []byte("top")},
		"unet/model.onnx":    {Data: []byte("motion unet")},
		"text_encoder/stale": {Data: []byte("hidden by base")},
	}
	base := fstest.MapFS{
		"model_index.json":        {Data: []byte("base")},
		"unet/model.onnx":         {Data: []byte("image unet")},
		"text_encoder/model.onnx": {Data: []byte("text")},
		"vae_decoder/model.onnx":  {Data: []byte("vae")},
	}
	s := sharedFS{top: top, base: base, shared: []string{"vae_decoder", "text_encoder"}}
	if err := fstest.TestFS(s, "model_index.json", "unet/model.onnx", "text_encoder/model.onnx", "vae_decoder/model.onnx"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"model_index.json":        "top",
		"unet/model.onnx":         "motion unet",
		"text_encoder/model.onnx": "text",
		"vae_decoder/model.onnx":  "vae",
	} {
		got, err := fs.ReadFile(s, name)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := fs.ReadFile(s, "text_encoder/stale"); err == nil {
		t.Error("a shared folder shows top's files")
	}
	if _, err := s.Open("../x"); err == nil {
		t.Error("an invalid path opened")
	}
	bad := sharedFS{top: top, base: base, shared: []string{"image_encoder"}}
	if _, err := fs.ReadDir(bad, "."); err == nil {
		t.Error("a shared folder the base lacks: no error")
	}
}

// TestVideoSharesTheDefaultModel checks that builtin:video's folder, as
// Dir writes it, holds the default model's text encoder, tokenizer and
// VAE byte for byte beside its own UNet.
func TestVideoSharesTheDefaultModel(t *testing.T) {
	m, err := ByName("video")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := m.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"text_encoder/model.onnx", "tokenizer/vocab.json", "vae_decoder/model.onnx", "vae_encoder/config.json"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "defaultmodel", "model", f))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s differs from the default model's", f)
		}
	}
	for _, f := range []string{"model_index.json", "unet/model.onnx", "unet/config.json", "scheduler/scheduler_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Components, "text_encoder") || !slices.Contains(st.Components, "unet") {
		t.Errorf("components %v", st.Components)
	}
}
