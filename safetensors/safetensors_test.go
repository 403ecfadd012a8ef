package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.safetensors")
	in := map[string]Tensor{
		"w":    {Shape: []int64{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-3, 7}},
		"half": {Shape: []int64{3}, Data: []float32{0.5, -1, 2}, DType: F16},
		"s":    {Shape: []int64{}, Data: []float32{4}},
	}
	if err := WriteFile(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := fmt.Sprint(f.Names()); got != "[half s w]" {
		t.Errorf("names %s", got)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for name, want := range in {
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(name)
		if fmt.Sprint(info.Shape) != fmt.Sprint(want.Shape) {
			t.Errorf("%s: shape %v, want %v", name, info.Shape, want.Shape)
		}
		for i := range want.Data {
			if got[i] != want.Data[i] {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want.Data[i])
			}
		}
	}
}

// corrupt builds a file from a header string and n data bytes.
func corrupt(t *testing.T, header string, headerLen uint64, data int) string {
	t.Helper()
	b := binary.LittleEndian.AppendUint64(nil, headerLen)
	b = append(append(b, header...), make([]byte, data)...)
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCorruptHeaders(t *testing.T) {
	good := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for _, tc := range []struct {
		name   string
		header string
		hlen   int64 // -1 = the header's length
		data   int
	}{
		{"header longer than file", good, 1 << 40, 8},
		{"header past end", good, int64(len(good)) + 100, 8},
		{"not json", "{not json", -1, 8},
		{"not an object", "[1,2]", -1, 8},
		{"unknown dtype", `{"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}`, -1, 8},
		{"negative dim", `{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, -1, 8},
		{"size mismatch", `{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, -1, 8},
		{"offsets past data", `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, -1, 4},
		{"reversed offsets", `{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, -1, 8},
		{"huge shape", `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, -1, 8},
		{"bad metadata", `{"__metadata__":{"a":1}}`, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hlen := uint64(len(tc.header))
			if tc.hlen >= 0 {
				hlen = uint64(tc.hlen)
			}
			_, err := Open(corrupt(t, tc.header, hlen, tc.data))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FormatError", err)
			}
		})
	}
	short := filepath.Join(t.TempDir(), "short.safetensors")
	os.WriteFile(short, []byte{1, 2, 3}, 0o644)
	if _, err := Open(short); err == nil {
		t.Error("3-byte file opened")
	}
	if f, err := Open(corrupt(t, good, uint64(len(good)), 8)); err != nil {
		t.Errorf("good file: %v", err)
	} else {
		f.Close()
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), 8)
	f.Add([]byte(`{"__metadata__":{"k":"v"}}`), 0)
	f.Fuzz(func(t *testing.T, header []byte, data int) {
		if data < 0 || data > 1<<16 {
			return
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		b = append(append(b, header...), make([]byte, data)...)
		sf, err := parseHeader("fuzz", bytesReaderAt(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, info := range sf.tensors {
			if info.Offset+info.Size > int64(len(b)) || info.Offset < 8 {
				t.Fatalf("tensor %s outside the file: %+v", info.Name, info)
			}
		}
	})
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, fmt.Errorf("EOF")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("EOF")
	}
	return n, nil
}
