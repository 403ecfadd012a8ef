// Package testort initializes ONNX Runtime for tests: it finds or installs
// the shared library the way the CLI does (package ortlib, so a fresh
// machine fetches it on the first test run) and loads it once per test
// binary.
package testort

import (
	"context"
	"sync"
	"testing"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

var (
	once    sync.Once
	libPath string
	initErr error
)

// Init makes sure ONNX Runtime is loaded, failing t when it cannot be.
func Init(t testing.TB) {
	t.Helper()
	once.Do(func() {
		libPath, initErr = ortlib.Ensure(context.Background(), ortlib.Options{})
		if initErr == nil {
			initErr = ort.Init(libPath)
		}
	})
	if initErr != nil {
		t.Fatalf("ONNX Runtime: %v", initErr)
	}
}

// LibPath returns the library Init loaded.
func LibPath() string { return libPath }
