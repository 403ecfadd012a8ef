package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/safetensors"
)

// TestConvertCLIErrors: bad arguments and inputs give clear errors and
// leave no output folder behind.
func TestConvertCLIErrors(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	xl := filepath.Join(tmp, "xl.safetensors")
	if err := safetensors.WriteFile(xl, map[string]safetensors.Tensor{
		"conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": {Shape: []int64{1}, Data: []float32{1}}}, nil); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(tmp, "bad.safetensors")
	os.WriteFile(corrupt, []byte("\xff\xff\xff\xff\xff\xff\xff\xff"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", xl}, "want SRC and OUT_DIR"},
		{[]string{"convert", filepath.Join(tmp, "missing"), out}, "no such file"},
		{[]string{"convert", xl, out}, "SDXL"},
		{[]string{"convert", "--prediction-type", "sample", xl, out}, "want epsilon or v_prediction"},
		{[]string{"convert", corrupt, out}, "safetensors"},
		{[]string{"convert", tmp, out}, "unet"},
	} {
		_, err := runCLI(t, append([]string{"--quiet"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", tc.args, err, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v left %s behind", tc.args, out)
		}
	}
}
