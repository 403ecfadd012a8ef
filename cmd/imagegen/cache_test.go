package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

func TestCacheCommand(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	out, err := runCLI(t, "--graph-cache", dir, "cache", "ls")
	if err != nil || !strings.Contains(out, "0 entries") {
		t.Fatalf("ls of an empty cache: %q, %v", out, err)
	}
	model := filepath.Join(conformance.Dir(t, "sd1-tiny"), "vae_decoder", "model.onnx")
	s, err := ort.Open(model, ort.Options{IntraOpThreads: 1, Cache: &ort.GraphCache{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	out, err = runCLI(t, "--graph-cache", dir, "cache", "ls")
	if err != nil || !strings.Contains(out, "1 entry,") || !strings.Contains(out, model) || strings.Contains(out, "unusable") {
		t.Fatalf("ls after one load: %q, %v", out, err)
	}
	out, err = runCLI(t, "--graph-cache", dir, "cache", "clear")
	if err != nil || !strings.HasPrefix(out, "removed 1 entry ") {
		t.Fatalf("clear: %q, %v", out, err)
	}
	if out, _ := runCLI(t, "--graph-cache", dir, "cache", "ls"); !strings.Contains(out, "0 entries") {
		t.Errorf("ls after clear: %q", out)
	}
}
