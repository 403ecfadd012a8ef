package main

import (
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestExportThenGenerate is the Go-defined model path end to end: export a
// tiny SD-layout checkpoint with the CLI and generate from it.
func TestExportThenGenerate(t *testing.T) {
	testort.Init(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "tiny")
	if _, err := runCLI(t, "--quiet", "export", "--arch", "tiny-sd", "--seed", "3", dir); err != nil {
		t.Fatal(err)
	}
	for _, fp16 := range []bool{false, true} {
		d := dir
		if fp16 {
			d = filepath.Join(tmp, "tiny16")
			if _, err := runCLI(t, "--quiet", "export", "--arch", "tiny-sd", "--fp16-weights", d); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(tmp, "x.npy")
		if _, err := runGenerateCLI(t, "generate", "a red circle", "--model", d, "--steps", "3", "--width", "48", "--height", "32", "-o", out); err != nil {
			t.Fatalf("fp16=%v: %v", fp16, err)
		}
		shape, data, err := imageio.LoadNPY(out)
		if err != nil || len(shape) != 4 || shape[1] != 32 || shape[2] != 48 {
			t.Fatalf("fp16=%v: shape %v, %v", fp16, shape, err)
		}
		for _, v := range data {
			if v < 0 || v > 1 || v != v {
				t.Fatalf("fp16=%v: value %v outside [0, 1]", fp16, v)
			}
		}
	}
}
