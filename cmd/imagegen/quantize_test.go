package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestQuantizeCLI quantizes the tiny checkpoint's text encoder and UNet
// to 4 bits, generates with the result, and checks the argument errors,
// none of which leaves an output behind.
func TestQuantizeCLI(t *testing.T) {
	testort.Init(t)
	src := conformance.Dir(t, "sd1-tiny")
	tmp := t.TempDir()
	out := filepath.Join(tmp, "q4")
	if _, err := runCLI(t, "--quiet", "quantize", src, out, "--bits", "4", "--block-size", "16", "--min-weights", "-1", "--components", "text_encoder,unet"); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(tmp, "q4.png")
	if _, err := runGenerateCLI(t, "generate", "a cat", "--model", out, "--steps", "2", "-o", png); err != nil {
		t.Fatal(err)
	}
	if !exists(png) {
		t.Fatal("no picture from the quantized checkpoint")
	}
	fresh := filepath.Join(tmp, "fresh")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", src}, "want MODEL_DIR and OUT_DIR"},
		{[]string{"quantize", src, fresh}, "--bits 8 or --bits 4 is required"},
		{[]string{"quantize", src, fresh, "--bits", "2"}, "want 4 or 8"},
		{[]string{"quantize", src, fresh, "--bits", "4", "--block-size", "100"}, "power of two"},
		{[]string{"quantize", src, fresh, "--bits", "4", "--components", "unet,prior"}, `no component "prior"`},
		{[]string{"quantize", filepath.Join(tmp, "missing"), fresh, "--bits", "4"}, "no such file"},
		{[]string{"quantize", src, out, "--bits", "8"}, "--force"},
	} {
		_, err := runCLI(t, append([]string{"--quiet"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", c.args, err, c.want)
		}
		if exists(fresh) {
			t.Fatalf("%v left %s behind", c.args, fresh)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "unet", "model.onnx")); err != nil {
		t.Fatalf("the refused run touched the existing output: %v", err)
	}
}
