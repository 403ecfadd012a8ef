package familytest

import (
	"context"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/pipeline"
)

// Load writes a checkpoint with write (WriteVAE, WriteVQVAE, ...) into a
// temporary folder and opens it with ONNX Runtime initialized; the
// pipeline closes when the test ends.
func Load(t testing.TB, write func(dir string, seed uint64) error) *pipeline.Pipeline {
	t.Helper()
	dir := t.TempDir()
	if err := write(dir, 1); err != nil {
		t.Fatal(err)
	}
	return LoadDir(t, dir)
}

// LoadDir opens the checkpoint folder dir as Load does.
func LoadDir(t testing.TB, dir string) *pipeline.Pipeline {
	t.Helper()
	testort.Init(t)
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
