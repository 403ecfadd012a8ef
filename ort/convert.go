package ort

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
	ortgo "github.com/yalue/onnxruntime_go"
)

// adaptShape reconciles a given shape with the declared one: a [1]-shaped
// value (or a [B] one whose entries agree) feeds a scalar input, a scalar
// feeds a [1] input. It then checks rank and static dimensions.
func adaptShape(info IOInfo, t Tensor) ([]int64, error) {
	shape := t.Shape
	switch {
	case info.Rank() == 0 && len(shape) == 1:
		if !allEqual(t) {
			return nil, fmt.Errorf("input %s: the model wants a scalar, got %d different values", info, shape[0])
		}
		shape = []int64{}
	case info.Rank() == 1 && len(shape) == 0:
		shape = []int64{1}
	}
	if info.Shape != nil && len(shape) != info.Rank() {
		return nil, fmt.Errorf("input %s: got shape %v (rank %d), want rank %d", info, t.Shape, len(t.Shape), info.Rank())
	}
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("input %s: negative dimension in %v", info, t.Shape)
		}
		if i < len(info.Shape) && info.Shape[i] >= 0 && info.Shape[i] != d {
			return nil, fmt.Errorf("input %s: got shape %v, dimension %d must be %d", info, t.Shape, i, info.Shape[i])
		}
	}
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if t.F32 == nil && t.I64 == nil && t.F64 == nil {
		return nil, fmt.Errorf("input %s: no data", info)
	}
	have := len(t.F32)
	switch {
	case t.F64 != nil:
		have = len(t.F64)
	case t.F32 == nil:
		have = len(t.I64)
	}
	if int64(have) < n && !(len(shape) == 0 && have >= 1) {
		return nil, fmt.Errorf("input %s: shape %v needs %d values, got %d", info, t.Shape, n, have)
	}
	return shape, nil
}

func allEqual(t Tensor) bool {
	for i := 1; i < len(t.F64); i++ {
		if t.F64[i] != t.F64[0] {
			return false
		}
	}
	for i := 1; i < len(t.F32); i++ {
		if t.F32[i] != t.F32[0] {
			return false
		}
	}
	for i := 1; i < len(t.I64); i++ {
		if t.I64[i] != t.I64[0] {
			return false
		}
	}
	return true
}

// value returns element k of t as float64 whichever slice holds it.
func (t *Tensor) value(k int) float64 {
	if t.F64 != nil {
		return t.F64[k]
	}
	if t.F32 != nil {
		return float64(t.F32[k])
	}
	return float64(t.I64[k])
}

func grow[T any](cache map[string][]T, name string, n int) []T {
	b := cache[name]
	if cap(b) < n {
		b = make([]T, n)
		cache[name] = b
	}
	return b[:n]
}

// inputValue builds the ORT value for one input, converting to the
// declared element type through per-input buffers reused across runs.
func (s *Session) inputValue(info IOInfo, t Tensor) (ortgo.Value, error) {
	shape, err := adaptShape(info, t)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	scalar := len(shape) == 0
	switch info.DType {
	case Float32:
		if scalar {
			return ortgo.NewScalar(float32(t.value(0)))
		}
		data := t.F32
		if data == nil || t.F64 != nil {
			data = grow(s.f32, info.Name, n)
			for k := range data {
				data[k] = float32(t.value(k))
			}
		}
		return ortgo.NewTensor(ortgo.Shape(shape), data[:n])
	case Float16:
		if scalar {
			return nil, fmt.Errorf("input %s: float16 scalars are not supported", info)
		}
		buf := grow(s.bufs, info.Name, 2*n)
		for k := 0; k < n; k++ {
			binary.LittleEndian.PutUint16(buf[2*k:], float16.Fromfloat32(float32(t.value(k))).Bits())
		}
		return ortgo.NewCustomDataTensor(ortgo.Shape(shape), buf, ortgo.TensorElementDataTypeFloat16)
	case Float64:
		if scalar {
			return ortgo.NewScalar(t.value(0))
		}
		if t.F64 != nil {
			return ortgo.NewTensor(ortgo.Shape(shape), t.F64[:n])
		}
		data := grow(s.f64, info.Name, n)
		for k := range data {
			data[k] = t.value(k)
		}
		return ortgo.NewTensor(ortgo.Shape(shape), data)
	case Int64:
		if scalar {
			return ortgo.NewScalar(int64(t.value(0)))
		}
		data := t.I64
		if data == nil {
			data = grow(s.i64, info.Name, n)
			for k := range data {
				data[k] = int64(t.F32[k]) // truncates, as numpy's astype does
			}
		}
		return ortgo.NewTensor(ortgo.Shape(shape), data[:n])
	case Int32:
		if scalar {
			return ortgo.NewScalar(int32(t.value(0)))
		}
		data := grow(s.i32, info.Name, n)
		for k := range data {
			v := t.value(k)
			if v > math.MaxInt32 || v < math.MinInt32 {
				return nil, fmt.Errorf("input %s: value %v does not fit int32", info, v)
			}
			data[k] = int32(v)
		}
		return ortgo.NewTensor(ortgo.Shape(shape), data)
	case Bool:
		if scalar {
			return ortgo.NewScalar(t.value(0) != 0)
		}
		data := grow(s.bools, info.Name, n)
		for k := range data {
			data[k] = t.value(k) != 0
		}
		return ortgo.NewTensor(ortgo.Shape(shape), data)
	}
	return nil, fmt.Errorf("input %s: element type %s is not supported", info, info.DType)
}

// outputValue returns a preallocated ORT value for a wanted output when its
// shape is known, or nil to let ONNX Runtime allocate it.
func (s *Session) outputValue(info IOInfo, t *Tensor, inVals []ortgo.Value) (ortgo.Value, error) {
	shape := t.Shape
	if shape == nil && info.DType == Float16 {
		shape = s.resolveShape(info, inVals)
	}
	if len(shape) == 0 {
		return nil, nil
	}
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	switch info.DType {
	case Float32:
		if len(t.F32) != n {
			t.F32 = make([]float32, n)
		}
		t.Shape = shape
		return ortgo.NewTensor(ortgo.Shape(shape), t.F32)
	case Float16:
		t.Shape = shape
		return ortgo.NewCustomDataTensor(ortgo.Shape(shape), grow(s.bufs, "out:"+info.Name, 2*n), ortgo.TensorElementDataTypeFloat16)
	case Int64:
		if len(t.I64) != n {
			t.I64 = make([]int64, n)
		}
		t.Shape = shape
		return ortgo.NewTensor(ortgo.Shape(shape), t.I64)
	}
	return nil, nil
}

// readPrealloc finishes an output that ran into a preallocated value.
func (s *Session) readPrealloc(info IOInfo, v ortgo.Value, t *Tensor) error {
	got := []int64(v.GetShape())
	if fmt.Sprint(got) != fmt.Sprint(t.Shape) {
		return fmt.Errorf("model produced shape %v, expected %v", got, t.Shape)
	}
	if info.DType != Float16 {
		return nil // ORT wrote straight into t's slice
	}
	n := t.Len()
	if len(t.F32) != n {
		t.F32 = make([]float32, n)
	}
	buf := s.bufs["out:"+info.Name]
	for k := range t.F32 {
		t.F32[k] = float16.Frombits(binary.LittleEndian.Uint16(buf[2*k:])).Float32()
	}
	return nil
}

// readAllocated copies an ORT-allocated output into t.
func readAllocated(v ortgo.Value, t *Tensor) error {
	t.Shape = []int64(v.GetShape())
	t.F32, t.I64, t.F64 = nil, nil, nil
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		t.F32 = x.GetData()
	case *ortgo.Tensor[float64]:
		t.F64 = x.GetData()
		t.F32 = convertSlice[float64, float32](t.F64)
	case *ortgo.Scalar[float64]:
		t.F64 = []float64{x.GetData()}
		t.F32 = []float32{float32(t.F64[0])}
	case *ortgo.Tensor[int64]:
		t.I64 = x.GetData()
	case *ortgo.Tensor[int32]:
		t.I64 = convertSlice[int32, int64](x.GetData())
	case *ortgo.Tensor[uint8]:
		t.I64 = convertSlice[uint8, int64](x.GetData())
	case *ortgo.Tensor[int8]:
		t.I64 = convertSlice[int8, int64](x.GetData())
	case *ortgo.Tensor[bool]:
		d := x.GetData()
		t.I64 = make([]int64, len(d))
		for k, b := range d {
			if b {
				t.I64[k] = 1
			}
		}
	case *ortgo.Scalar[float32]:
		t.F32 = []float32{x.GetData()}
	case *ortgo.Scalar[int64]:
		t.I64 = []int64{x.GetData()}
	default:
		return fmt.Errorf("unsupported output value %T", v)
	}
	return nil
}

func convertSlice[A, B int8 | uint8 | int32 | int64 | float32 | float64](a []A) []B {
	b := make([]B, len(a))
	for i, v := range a {
		b[i] = B(v)
	}
	return b
}

// resolveShape infers an output's shape from its declaration: static
// dimensions as declared, symbolic ones from an input dimension of the same
// name. It returns nil when a dimension stays unknown.
func (s *Session) resolveShape(info IOInfo, inVals []ortgo.Value) []int64 {
	shape := make([]int64, len(info.Shape))
	for k, d := range info.Shape {
		if d >= 0 {
			shape[k] = d
			continue
		}
		name := ""
		if k < len(info.DimNames) {
			name = info.DimNames[k]
		}
		shape[k] = -1
		for i, in := range s.inputs {
			for j, n := range in.DimNames {
				if name != "" && n == name && inVals[i] != nil && j < len(inVals[i].GetShape()) {
					shape[k] = inVals[i].GetShape()[j]
				}
			}
		}
		if shape[k] < 0 {
			return nil
		}
	}
	return shape
}
