package safetensors

import (
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
// nothing half-written.
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
	var data []byte
	for _, n := range names {
		t := tensors[n]
		dt := t.DType
		if dt == "" {
			dt = F32
		}
		count := int64(1)
		for _, d := range t.Shape {
			count *= d
		}
		if count != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: write %s: tensor %q: shape %v needs %d values, got %d", path, n, t.Shape, count, len(t.Data))
		}
		begin := len(data)
		for _, v := range t.Data {
			switch dt {
			case F32:
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			case F16:
				data = binary.LittleEndian.AppendUint16(data, float16.Fromfloat32(v).Bits())
			default:
				return fmt.Errorf("safetensors: write %s: tensor %q: dtype %s not supported for writing", path, n, dt)
			}
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		header[n] = map[string]any{"dtype": dt, "shape": shape, "data_offsets": []int{begin, len(data)}}
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	out = append(append(out, hdr...), data...)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
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
