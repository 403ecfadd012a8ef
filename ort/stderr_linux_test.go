package ort_test

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

// captureStderr returns what is written on file descriptor 2 (where ONNX
// Runtime's logger prints, below Go's os.Stderr) while fn runs.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	fn()
	syscall.Dup3(saved, 2, 0)
	syscall.Close(saved)
	w.Close()
	return <-done
}

func TestRuntimeErrorsAreNotPrinted(t *testing.T) {
	testort.Init(t)
	s, err := ort.Open(writeModel(t, ort.ReshapeModel), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var runErr error
	printed := captureStderr(t, func() {
		in := map[string]ort.Tensor{"x": {Shape: []int64{6}, F32: make([]float32, 6)}, "shape": {Shape: []int64{1}, I64: []int64{5}}}
		runErr = s.Run(context.Background(), in, map[string]*ort.Tensor{"y": {}})
	})
	if runErr == nil {
		t.Fatal("reshaping 6 elements to 5: no error")
	}
	if printed != "" {
		t.Errorf("ONNX Runtime printed on stderr: %q", printed)
	}
}
