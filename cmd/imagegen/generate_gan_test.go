package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestGenerateGANTruncation runs generate on a GAN folder with and without
// --truncation, and checks that ψ outside (0, 1] is refused before any
// file is written.
func TestGenerateGANTruncation(t *testing.T) {
	testort.Init(t)
	model := filepath.Join(t.TempDir(), "gan")
	if err := familytest.WriteGAN(model, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, psi := range []string{"", "0.7", "1"} {
		out := filepath.Join(dir, "ok"+psi+".png")
		args := []string{"generate", "--model", model, "-o", out, "a red circle at the left"}
		if psi != "" {
			args = append(args, "--truncation", psi)
		}
		if _, err := runGenerateCLI(t, args...); err != nil {
			t.Fatalf("--truncation %q: %v", psi, err)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 32 {
			t.Fatalf("--truncation %q: %v, want a 32x32 PNG", psi, err)
		}
	}
	for _, psi := range []string{"0", "-0.5", "1.5"} {
		out := filepath.Join(dir, "bad"+psi+".png")
		_, err := runGenerateCLI(t, "generate", "--model", model, "-o", out, "--truncation", psi, "a red circle")
		if err == nil || !strings.Contains(err.Error(), "--truncation must be in (0, 1]") {
			t.Errorf("--truncation %s: got %v, want a range error", psi, err)
		}
		if exists(out) {
			t.Errorf("--truncation %s: %s was written", psi, out)
		}
	}
}
