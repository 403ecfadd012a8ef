package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/x448/float16"
)

// Tensor is one tensor to write: float32 data stored as DType F32 or F16.
type Tensor struct {
	Shape []int64
	Data  []float32
	DType DType // F32 (default) or F16
}

// WriteFile writes tensors (and metadata, if any) to path atomically: a
// temporary file beside it is renamed into place, so a failed write leaves
// nothing half-written. The data is streamed to the file, so writing a
// checkpoint of several GB needs no second copy of it in memory.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var end int64
	for _, n := range names {
		t := tensors[n]
		dt := t.DType
		if dt == "" {
			dt = F32
		}
		if dt != F32 && dt != F16 {
			return fmt.Errorf("safetensors: write %s: tensor %q: dtype %s not supported for writing", path, n, dt)
		}
		count := int64(1)
		for _, d := range t.Shape {
			count *= d
		}
		if count != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: write %s: tensor %q: shape %v needs %d values, got %d", path, n, t.Shape, count, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		begin := end
		end += count * int64(dt.Size())
		header[n] = map[string]any{"dtype": dt, "shape": shape, "data_offsets": []int64{begin, end}}
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))))
	w.Write(hdr)
	chunk := make([]byte, 0, 1<<16)
	for _, n := range names {
		t := tensors[n]
		for _, v := range t.Data {
			if t.DType == F16 {
				chunk = binary.LittleEndian.AppendUint16(chunk, float16.Fromfloat32(v).Bits())
			} else {
				chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
			}
			if len(chunk) >= 1<<16-4 {
				w.Write(chunk)
				chunk = chunk[:0]
			}
		}
	}
	w.Write(chunk)
	if err := w.Flush(); err != nil { // bufio.Writer's error is sticky: the first failed write
		tmp.Close()
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}
