package latentset

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFloatsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bin")
	want := []float32{1, -2.5, 3e-8, 0}
	if err := WriteFloats(path, want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	got := make([]float32, len(want))
	if err := ReadFloats(path, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] got %v, want %v", i, got[i], want[i])
		}
	}
	if err := ReadFloats(path, make([]float32, len(want)+1)); err == nil {
		t.Error("reading more floats than the file holds: no error")
	}
	if err := ReadFloats(filepath.Join(t.TempDir(), "missing.bin"), got); err == nil {
		t.Error("reading a missing file: no error")
	}
}
