package ort_test

import (
	"fmt"
	"path/filepath"
	"testing"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

// TestReadModelIOMatchesRuntime checks the weight-skipping scanner against
// ONNX Runtime's own view of every conformance model.
func TestReadModelIOMatchesRuntime(t *testing.T) {
	testort.Init(t)
	for _, ck := range []string{"sd1-tiny", "sdxl-tiny", "sd3-tiny", "flux-tiny", "sd1-lcm-tiny"} {
		dir := conformance.Dir(t, ck)
		models, _ := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
		if len(models) == 0 {
			t.Fatalf("%s: no models", ck)
		}
		for _, m := range models {
			in, out, err := ort.ReadModelInfo(m)
			if err != nil {
				t.Fatalf("%s: %v", m, err)
			}
			rin, rout, err := ortgo.GetInputOutputInfo(m)
			if err != nil {
				t.Fatalf("%s: runtime: %v", m, err)
			}
			compareIO(t, m, in, rin)
			compareIO(t, m, out, rout)
		}
	}
}

func compareIO(t *testing.T, model string, got []ort.IOInfo, want []ortgo.InputOutputInfo) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, runtime says %d", model, len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].DType != ort.FromORT(want[i].DataType) ||
			fmt.Sprint(got[i].Shape) != fmt.Sprint([]int64(want[i].Dimensions)) {
			t.Errorf("%s: got %v %v, runtime says %s", model, got[i], got[i].Shape, want[i].String())
		}
	}
}
