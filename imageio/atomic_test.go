package imageio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	boom := errors.New("boom")
	steps := []struct {
		name    string
		write   func(w io.Writer) error
		wantErr error
		want    string // file content afterwards
	}{
		{"create", func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }, nil, "first"},
		{"replace", func(w io.Writer) error { _, err := io.WriteString(w, "second"); return err }, nil, "second"},
		{"failed write keeps old file", func(w io.Writer) error { io.WriteString(w, "partial"); return boom }, boom, "second"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := WriteFileAtomic(path, s.write)
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("err = %v, want %v", err, s.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != s.want {
				t.Errorf("content = %q (%v), want %q", got, err, s.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("folder holds %d entries, want 1 (temporary file left behind?)", len(entries))
			}
			if st, err := os.Stat(path); err == nil && st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", st.Mode().Perm())
			}
		})
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), func(io.Writer) error { return nil }); err == nil {
		t.Error("write into a missing folder: no error")
	}
}
