package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/x448/float16"
)

// DType is a safetensors element type name ("F32", "F16", "BF16", ...).
type DType string

// Element types Open accepts.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// FormatError reports a file that is not valid safetensors.
type FormatError struct {
	Path   string
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("safetensors: %s: %s", e.Path, e.Reason)
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType DType
	Shape []int64
	// Offset and Size locate the tensor's bytes in the file.
	Offset, Size int64
}

// Len returns the element count of the tensor's shape.
func (i Info) Len() int64 {
	n := int64(1)
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file.
type File struct {
	path     string
	f        *os.File
	tensors  map[string]Info
	Metadata map[string]string
}

// maxHeader bounds the JSON header (the format's reference reader allows
// 100 MB).
const maxHeader = 100 << 20

// maxElements bounds one tensor so that a corrupt shape cannot make a
// reader allocate without limit.
const maxElements = 1 << 36

// Open opens path and validates its header: every tensor's dtype, shape
// and byte range must agree and lie inside the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := parseHeader(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.f = f
	return sf, nil
}

func parseHeader(path string, r io.ReaderAt, size int64) (*File, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	var lenBuf [8]byte
	if size < 8 {
		return nil, bad("file of %d bytes is too short for a header", size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > size-8 {
		return nil, bad("header length %d does not fit a file of %d bytes", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, bad("header is not a JSON object: %v", err)
	}
	dataStart := 8 + int64(n)
	dataSize := size - dataStart
	sf := &File{path: path, tensors: map[string]Info{}, Metadata: map[string]string{}}
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &sf.Metadata); err != nil {
				return nil, bad("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e struct {
			DType   DType    `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		if e.DType.Size() == 0 {
			return nil, bad("tensor %q: unknown dtype %q", name, e.DType)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > maxElements/d) {
				return nil, bad("tensor %q: bad shape %v", name, e.Shape)
			}
			count *= d
		}
		begin, end := e.Offsets[0], e.Offsets[1]
		if begin < 0 || end < begin || end > dataSize {
			return nil, bad("tensor %q: data offsets [%d, %d] outside the %d data bytes", name, begin, end, dataSize)
		}
		if want := count * int64(e.DType.Size()); end-begin != want {
			return nil, bad("tensor %q: %s %v needs %d bytes, offsets give %d", name, e.DType, e.Shape, want, end-begin)
		}
		sf.tensors[name] = Info{Name: name, DType: e.DType, Shape: e.Shape, Offset: dataStart + begin, Size: end - begin}
	}
	return sf, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Info returns the description of tensor name.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.tensors[name]
	return i, ok
}

// Raw reads tensor name's bytes (little-endian, as stored).
func (f *File) Raw(name string) ([]byte, error) {
	info, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: no tensor %q", f.path, name)
	}
	b := make([]byte, info.Size)
	if _, err := f.f.ReadAt(b, info.Offset); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read %s: %w", f.path, name, err)
	}
	return b, nil
}

// Float32 reads tensor name as float32, converting from F16, BF16 and F64.
func (f *File) Float32(name string) ([]float32, error) {
	b, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	info := f.tensors[name]
	out := make([]float32, info.Len())
	switch info.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: %s: tensor %q is %s, not a float type", f.path, name, info.DType)
	}
	return out, nil
}
