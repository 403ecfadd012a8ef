package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestNPYRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		shape []int
	}{
		{"scalar", []int{}},
		{"empty", []int{0}},
		{"vector", []int{5}},
		{"3d", []int{2, 3, 4}},
		{"latents", []int{1, 4, 8, 8}},
		{"images", []int{2, 32, 32, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, _ := numElements(tt.shape)
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(i)*0.37 - 3
			}
			var buf bytes.Buffer
			if err := WriteNPY(&buf, tt.shape, data); err != nil {
				t.Fatal(err)
			}
			if (buf.Len()-4*n)%64 != 0 {
				t.Errorf("header is %d bytes, want a multiple of 64", buf.Len()-4*n)
			}
			shape, got, err := ReadNPY(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(shape, tt.shape) {
				t.Errorf("shape = %v, want %v", shape, tt.shape)
			}
			if !reflect.DeepEqual(got, data) {
				t.Errorf("data differs after round trip")
			}
		})
	}
}

// TestNPYMatchesNumpy checks WriteNPY's bytes against numpy.save's and
// reads numpy's files (testdata made by scripts/gen_imageio_golden.py).
func TestNPYMatchesNumpy(t *testing.T) {
	tests := []struct {
		file  string
		shape []int
		data  []float32
	}{
		{"numpy.npy", []int{2, 3, 4}, func() []float32 {
			d := make([]float32, 24)
			for i := range d {
				d[i] = (float32(i) - 7.25) / 3
			}
			return d
		}()},
		{"numpy_1d.npy", []int{5}, []float32{1.5, -2, 0, 3.25, 1e-8}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			shape, data, err := LoadNPY(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(shape, tt.shape) {
				t.Errorf("shape = %v, want %v", shape, tt.shape)
			}
			for i := range tt.data {
				if data[i] != tt.data[i] {
					t.Errorf("[%d] = %v, want %v", i, data[i], tt.data[i])
				}
			}
			var buf bytes.Buffer
			if err := WriteNPY(&buf, tt.shape, tt.data); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("WriteNPY bytes differ from numpy.save:\n got %q\nwant %q", buf.Bytes()[:64], want[:64])
			}
		})
	}
}

func npyWithHeader(version byte, header string, data []byte) []byte {
	b := []byte(npyMagic)
	b = append(b, version, 0)
	if version == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, data...)
}

func TestReadNPYVariants(t *testing.T) {
	one := []byte{0, 0, 0x80, 0x3f}   // 1.0 little-endian
	oneBE := []byte{0x3f, 0x80, 0, 0} // 1.0 big-endian
	tests := []struct {
		name  string
		file  []byte
		shape []int
	}{
		{"version2", npyWithHeader(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", one), []int{1}},
		{"keys reordered, double quotes", npyWithHeader(1, `{"shape": (1, 1), "fortran_order": False, "descr": "<f4"}`, one), []int{1, 1}},
		{"big-endian", npyWithHeader(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", oneBE), []int{1}},
		{"python2 long", npyWithHeader(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1L,)}", one), []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shape, data, err := ReadNPY(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(shape, tt.shape) || len(data) != 1 || data[0] != 1 {
				t.Errorf("got %v %v, want %v [1]", shape, data, tt.shape)
			}
		})
	}
}

func TestReadNPYErrors(t *testing.T) {
	hdr := func(s string) []byte { return npyWithHeader(1, s, make([]byte, 8)) }
	tests := []struct {
		name        string
		file        []byte
		unsupported bool // want ErrUnsupported rather than a FormatError
	}{
		{"empty", nil, false},
		{"bad magic", []byte("\x93NUMPZ\x01\x00\x00\x00"), false},
		{"version 9", npyWithHeader(1, "", nil)[:6:6], false},
		{"float64", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}"), true},
		{"int32", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}"), true},
		{"fortran", hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}"), true},
		{"truncated data", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}"), false},
		{"missing key", hdr("{'descr': '<f4', 'shape': (1,)}"), false},
		{"unknown key", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), false},
		{"negative dim", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), false},
		{"huge dims", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999, 99999999)}"), false},
		{"not a dict", hdr("['descr']"), false},
		{"unterminated", hdr("{'descr': '<f4"), false},
		{"trailing junk", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadNPY(bytes.NewReader(tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if tt.unsupported && !errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v, want ErrUnsupported", err)
			}
			if !tt.unsupported && !errors.As(err, &fe) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v (%T), want *FormatError", err, err)
			}
		})
	}
	// The version byte check.
	b := npyWithHeader(1, "{}", nil)
	b[6] = 9
	if _, _, err := ReadNPY(bytes.NewReader(b)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("version 9: err = %v, want ErrUnsupported", err)
	}
}

func TestWriteNPYErrors(t *testing.T) {
	tests := []struct {
		name  string
		shape []int
		n     int
	}{
		{"count mismatch", []int{2, 2}, 3},
		{"negative", []int{-1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteNPY(&bytes.Buffer{}, tt.shape, make([]float32, tt.n))
			if !errors.Is(err, ErrShape) {
				t.Errorf("err = %v, want ErrShape", err)
			}
		})
	}
}

func TestSaveLoadNPY(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latents.npy")
	data := []float32{1, 2, 3, 4, 5, 6}
	if err := SaveNPY(path, []int{1, 2, 3}, data); err != nil {
		t.Fatal(err)
	}
	shape, got, err := LoadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shape, []int{1, 2, 3}) || !reflect.DeepEqual(got, data) {
		t.Errorf("got %v %v", shape, got)
	}
	if _, _, err := LoadNPY(filepath.Join(t.TempDir(), "missing.npy")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	WriteNPY(&buf, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	f.Add(buf.Bytes())
	f.Add(npyWithHeader(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", []byte{0, 0, 0x80, 0x3f}))
	f.Add([]byte(npyMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, data, err := ReadNPY(bytes.NewReader(b))
		if err != nil {
			return
		}
		n, err := numElements(shape)
		if err != nil || n != len(data) {
			t.Fatalf("shape %v does not match %d values", shape, len(data))
		}
		var out bytes.Buffer
		if err := WriteNPY(&out, shape, data); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		shape2, data2, err := ReadNPY(&out)
		if err != nil || !reflect.DeepEqual(shape, shape2) || len(data2) != len(data) {
			t.Fatalf("second round trip: %v %v %v", shape2, len(data2), err)
		}
	})
}
