package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

func TestGenerateTokenFlags(t *testing.T) {
	testort.Init(t)
	model := t.TempDir()
	if err := familytest.WriteVQGPT(model, 1); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	steps := filepath.Join(tmp, "steps")
	out := filepath.Join(tmp, "x.png")
	if _, err := runGenerateCLI(t, "generate", "--model", model, "a red circle", "--temperature", "0.8", "--top-k", "8",
		"--top-p", "0.9", "--save-steps", steps, "--save-every", "16", "--seed", "3", "-o", out); err != nil {
		t.Fatal(err)
	}
	if !exists(out) {
		t.Fatal("no output picture")
	}
	for _, n := range []string{"tokens-0016.png", "tokens-0032.png", "tokens-0048.png", "tokens-0064.png"} {
		if !exists(filepath.Join(steps, n)) {
			t.Errorf("--save-steps wrote no %s", n)
		}
	}
	if entries, _ := os.ReadDir(steps); len(entries) != 4 {
		t.Errorf("--save-steps wrote %d files, want 4", len(entries))
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--temperature", "0"}, "--temperature must be a finite number > 0"},
		{[]string{"--temperature", "-1"}, "--temperature must be a finite number > 0"},
		{[]string{"--top-p", "0"}, "--top-p must be in (0, 1]"},
		{[]string{"--top-p", "1.01"}, "--top-p must be in (0, 1]"},
		{[]string{"--top-k", "-1"}, "--top-k must be 0"},
		{[]string{"--save-steps", steps, "--save-every", "0"}, "--save-every must be at least 1"},
	} {
		args := append([]string{"generate", "--model", model, "a red circle", "-o", out}, tt.args...)
		if _, err := runGenerateCLI(t, args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

// TestProgressLabel: the autoregressive families' progress bars count
// tokens or subpixels, not denoising steps.
func TestProgressLabel(t *testing.T) {
	for f, want := range map[pipeline.Family]string{
		pipeline.FamilyVQGPT: "sampling tokens", pipeline.FamilyPixelCNN: "sampling subpixels",
		pipeline.FamilySD: "denoising", pipeline.FamilyFlux: "denoising",
	} {
		if got := progressLabel(f); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
}
