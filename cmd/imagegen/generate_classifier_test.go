package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestGenerateClassifierScaleNeedsClassifier: --classifier-scale on a model
// without a classifier component is a clear error, and no file is written.
func TestGenerateClassifierScaleNeedsClassifier(t *testing.T) {
	testort.Init(t)
	model := filepath.Join(t.TempDir(), "gan")
	if err := familytest.WriteGAN(model, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.png")
	_, err := runGenerateCLI(t, "generate", "--model", model, "-o", out, "--classifier-scale", "3", "a red circle")
	if err == nil || !strings.Contains(err.Error(), "classifier guidance needs a checkpoint with a noise-conditional classifier") {
		t.Errorf("--classifier-scale on a GAN: got %v, want the no-classifier error", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s was written", out)
	}
}
