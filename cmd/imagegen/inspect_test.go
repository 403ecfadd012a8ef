package main

import (
	"path/filepath"
	"strings"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func TestInspectCountsWeightsAndConstantsApart(t *testing.T) {
	b := onnxexport.NewUNetGraph(onnxexport.TinySD().UNet, 1)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(path, m); err != nil {
		t.Fatal(err)
	}
	r, err := inspectModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Parameters != b.NumParams() {
		t.Errorf("parameters %d, want the %d trainable weights", r.Parameters, b.NumParams())
	}
	if r.Constants == 0 {
		t.Error("no constants reported for a UNet with GroupNorm constants")
	}
	var out strings.Builder
	writeInspect(&out, r)
	if !strings.Contains(out.String(), "trainable weights") {
		t.Errorf("report does not name trainable weights:\n%s", out.String())
	}
}
