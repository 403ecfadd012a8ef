package builtin

import (
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

// TestWithShared checks the folder a distilled model runs from: its own
// files, the shared folders read from the other model (an own copy of a
// shared folder is hidden), and fs.FS's contract (fstest.TestFS).
func TestWithShared(t *testing.T) {
	own := fstest.MapFS{
		"model_index.json":        {Data: []byte("own index")},
		"unet/model.onnx":         {Data: []byte("own unet")},
		"vae_decoder/config.json": {Data: []byte("stale copy")},
	}
	from := fstest.MapFS{
		"model_index.json":        {Data: []byte("teacher index")},
		"unet/model.onnx":         {Data: []byte("teacher unet")},
		"vae_decoder/config.json": {Data: []byte("teacher vae")},
		"tokenizer/vocab.json":    {Data: []byte("teacher vocab")},
	}
	fsys := withShared(own, from, "tokenizer", "vae_decoder")
	if err := fstest.TestFS(fsys, "model_index.json", "unet/model.onnx", "vae_decoder/config.json", "tokenizer/vocab.json"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"model_index.json": "own index", "unet/model.onnx": "own unet",
		"vae_decoder/config.json": "teacher vae", "tokenizer/vocab.json": "teacher vocab",
	} {
		got, err := fs.ReadFile(fsys, name)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	var root []string
	entries, _ := fs.ReadDir(fsys, ".")
	for _, e := range entries {
		root = append(root, e.Name())
	}
	if want := []string{"model_index.json", "tokenizer", "unet", "vae_decoder"}; !slices.Equal(root, want) {
		t.Errorf("root lists %v, want %v", root, want)
	}
	if _, err := fs.ReadDir(withShared(own, from, "text_encoder"), "."); err == nil {
		t.Error("a shared folder the other model lacks: no error")
	}
}
