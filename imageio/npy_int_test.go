package imageio

import (
	"bytes"
	"errors"
	"testing"
)

func TestNPYInt64RoundTrip(t *testing.T) {
	data := []int64{0, 1, -2, 511, 1 << 40, -1 << 40}
	var buf bytes.Buffer
	if err := WriteNPYInt64(&buf, []int{2, 3}, data); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%64 != 48 { // 128-byte header + 48 bytes of data
		t.Errorf("file of %d bytes: the data should start on a 64-byte boundary", buf.Len())
	}
	shape, got, err := ReadNPYInt64(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v, want [2 3]", shape)
	}
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("value %d = %d, want %d", i, got[i], data[i])
		}
	}
}

func TestReadNPYInt64Dtypes(t *testing.T) {
	tests := []struct {
		descr string
		raw   []byte
		want  []int64
	}{
		{"<i4", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, []int64{1, -1}},
		{">i2", []byte{0, 7, 0xff, 0xfe}, []int64{7, -2}},
		{"|u1", []byte{200, 3}, []int64{200, 3}},
		{"|i1", []byte{0xff, 3}, []int64{-1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.descr, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeNPYHeader(&buf, tt.descr, []int{2}, 2); err != nil {
				t.Fatal(err)
			}
			buf.Write(tt.raw)
			_, got, err := ReadNPYInt64(&buf)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Fatalf("value %d = %d, want %d", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadNPYInt64RefusesFloats(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteNPY(&buf, []int{2}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadNPYInt64(&buf); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("float32 file: got %v, want ErrUnsupported", err)
	}
}

func FuzzReadNPYInt64(f *testing.F) {
	var buf bytes.Buffer
	WriteNPYInt64(&buf, []int{2, 2}, []int64{1, 2, 3, 4})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, raw []byte) {
		shape, data, err := ReadNPYInt64(bytes.NewReader(raw))
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d values", shape, len(data))
		}
	})
}
