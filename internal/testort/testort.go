// Package testort initializes ONNX Runtime for tests: it finds or installs
// the shared library the way the CLI does (package ortlib) and loads it
// once per test binary.
package testort

import (
	"os"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/ort"
)

var (
	once    sync.Once
	initErr error
)

// Init makes sure ONNX Runtime is loaded, failing t when it cannot be.
func Init(t testing.TB) {
	t.Helper()
	once.Do(func() {
		path := os.Getenv("IMAGEGEN_ORT_LIB")
		initErr = ort.Init(path)
	})
	if initErr != nil {
		t.Fatalf("ONNX Runtime: %v", initErr)
	}
}
