package builtin

import (
	"io/fs"
	"testing"
)

// TestWithUNetOf checks that builtin:dit-4step is builtin:dit-1step's
// unet with its own sampling config: the unet files are dit-1step's, the
// model_index.json its own, and the text encoder the default model's.
func TestWithUNetOf(t *testing.T) {
	four, err := withUNetOf("dit-4step", "dit-1step", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")()
	if err != nil {
		t.Fatal(err)
	}
	one, err := withDefaultModel("dit-1step", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		same bool
	}{{"unet/model.onnx", true}, {"unet/config.json", true}, {"text_encoder/config.json", true}, {"model_index.json", false}} {
		a, err := fs.ReadFile(four, tc.file)
		if err != nil {
			t.Fatalf("dit-4step %s: %v", tc.file, err)
		}
		b, err := fs.ReadFile(one, tc.file)
		if err != nil {
			t.Fatalf("dit-1step %s: %v", tc.file, err)
		}
		if got := string(a) == string(b); got != tc.same {
			t.Errorf("%s: same in both = %v, want %v", tc.file, got, tc.same)
		}
	}
	entries, err := fs.ReadDir(four, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"model_index.json", "scheduler", "text_encoder", "tokenizer", "unet", "vae_decoder", "vae_encoder"}
	if len(names) != len(want) {
		t.Fatalf("dit-4step lists %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("dit-4step lists %v, want %v", names, want)
		}
	}
	if _, err := withUNetOf("dit-1step", "dit", "text_encoder")(); err == nil {
		t.Error("a model with a unet of its own shares another's without complaint")
	}
}
