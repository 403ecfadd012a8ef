package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func TestTrainCommand(t *testing.T) {
	testort.Init(t)
	out := filepath.Join(t.TempDir(), "run")
	if _, err := runCLI(t, "--quiet", "train", "--arch", "mlp", "--steps", "30", "--out", out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"checkpoint.bin", "model.onnx"} {
		if !exists(filepath.Join(out, f)) {
			t.Fatalf("%s missing after training", f)
		}
	}
	if _, err := runCLI(t, "--quiet", "train", "--arch", "mlp", "--steps", "40", "--out", out, "--resume"); err != nil {
		t.Fatalf("resume: %v", err)
	}
	m, err := onnxexport.ReadModel(filepath.Join(out, "model.onnx"))
	if err != nil || m.NumParams() == 0 {
		t.Fatalf("exported model: %v", err)
	}
	_, err = runCLI(t, "--quiet", "train", "--arch", "conv-ae", "--steps", "50", "--out", out, "--resume")
	if err == nil {
		t.Fatal("resuming an mlp checkpoint as conv-ae succeeded")
	}
	if _, err := runCLI(t, "--quiet", "train", "--arch", "nope", "--out", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown arch: got %v", err)
	}
	os.RemoveAll(out)
}
