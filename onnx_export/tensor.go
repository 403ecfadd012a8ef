package onnxexport

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// Tensor is a dense host tensor: an element type, a static shape, and the
// data in the one slice that matches DType (row-major). Float16 data is kept
// as IEEE 754 half-precision bit patterns.
type Tensor struct {
	DType   DType
	Shape   []int64
	Float32 []float32
	Float64 []float64
	Float16 []uint16
	Int64   []int64
	Int32   []int32
	Bool    []bool
}

// Float16WeightSuffix ends the initializer name of a parameter stored as
// float16 (WithFloat16Weights): "conv_in.weight::float16", cast to
// float32 in the graph. Strip it to load such a model's weights back by
// parameter name.
const Float16WeightSuffix = "::float16"

// NewFloat32 returns a float32 tensor; data is used, not copied.
func NewFloat32(shape []int64, data []float32) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int64{}, shape...), Float32: data}
}

// NewFloat64 returns a float64 tensor; data is used, not copied.
func NewFloat64(shape []int64, data []float64) *Tensor {
	return &Tensor{DType: Float64, Shape: append([]int64{}, shape...), Float64: data}
}

// NewInt64 returns an int64 tensor; data is used, not copied.
func NewInt64(shape []int64, data []int64) *Tensor {
	return &Tensor{DType: Int64, Shape: append([]int64{}, shape...), Int64: data}
}

// NumElements returns the product of the shape.
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Len returns the number of elements held in the data slice.
func (t *Tensor) Len() int {
	switch t.DType {
	case Float32:
		return len(t.Float32)
	case Float64:
		return len(t.Float64)
	case Float16:
		return len(t.Float16)
	case Int64:
		return len(t.Int64)
	case Int32:
		return len(t.Int32)
	case Bool:
		return len(t.Bool)
	}
	return 0
}

// Validate checks that the data slice matches the type and the shape.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("onnxexport: nil tensor")
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("onnxexport: tensor shape %v has a negative dimension", t.Shape)
		}
	}
	if t.DType.Size() == 0 {
		return fmt.Errorf("onnxexport: tensor type %v not supported", t.DType)
	}
	if int64(t.Len()) != t.NumElements() {
		return fmt.Errorf("onnxexport: tensor shape %v needs %d %v elements, data has %d", t.Shape, t.NumElements(), t.DType, t.Len())
	}
	return nil
}

// AsFloat32 returns the data converted to float32 (float16 and float64 are
// converted, integer types are not floats and give an error).
func (t *Tensor) AsFloat32() ([]float32, error) {
	switch t.DType {
	case Float32:
		return t.Float32, nil
	case Float16:
		out := make([]float32, len(t.Float16))
		for i, h := range t.Float16 {
			out[i] = Float16ToFloat32(h)
		}
		return out, nil
	case Float64:
		out := make([]float32, len(t.Float64))
		for i, v := range t.Float64 {
			out[i] = float32(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("onnxexport: tensor of %v is not floating point", t.DType)
}

// rawBytes encodes the data little-endian, as ONNX's raw_data field holds it.
func (t *Tensor) rawBytes() []byte {
	n := t.Len()
	buf := make([]byte, n*t.DType.Size())
	switch t.DType {
	case Float32:
		for i, v := range t.Float32 {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
	case Float64:
		for i, v := range t.Float64 {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
		}
	case Float16:
		for i, v := range t.Float16 {
			binary.LittleEndian.PutUint16(buf[2*i:], v)
		}
	case Int64:
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		}
	case Int32:
		for i, v := range t.Int32 {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
		}
	case Bool:
		for i, v := range t.Bool {
			if v {
				buf[i] = 1
			}
		}
	}
	return buf
}

// setRaw decodes little-endian bytes into the data slice for t.DType.
func (t *Tensor) setRaw(raw []byte) error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor type %v not supported", t.DType)
	}
	if int64(len(raw)) != t.NumElements()*int64(size) {
		return fmt.Errorf("raw data has %d bytes, shape %v of %v needs %d", len(raw), t.Shape, t.DType, t.NumElements()*int64(size))
	}
	n := len(raw) / size
	switch t.DType {
	case Float32:
		t.Float32 = make([]float32, n)
		for i := range n {
			t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case Float64:
		t.Float64 = make([]float64, n)
		for i := range n {
			t.Float64[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case Float16:
		t.Float16 = make([]uint16, n)
		for i := range n {
			t.Float16[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
	case Int64:
		t.Int64 = make([]int64, n)
		for i := range n {
			t.Int64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case Int32:
		t.Int32 = make([]int32, n)
		for i := range n {
			t.Int32[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case Bool:
		t.Bool = make([]bool, n)
		for i := range n {
			t.Bool[i] = raw[i] != 0
		}
	default:
		return fmt.Errorf("tensor type %v not supported", t.DType)
	}
	return nil
}

// EncodeTensor encodes t as a TensorProto named name, its data inline
// (raw_data).
func EncodeTensor(name string, t *Tensor) *onnxpb.TensorProto { return t.toProto(name) }

// toProto encodes t as a TensorProto named name with raw_data.
func (t *Tensor) toProto(name string) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{
		Name:     &name,
		DataType: proto32(int32(t.DType)),
		Dims:     append([]int64{}, t.Shape...),
		RawData:  t.rawBytes(),
	}
}

// toFloat16 returns a float16 copy of a float32 tensor.
func (t *Tensor) toFloat16() *Tensor {
	h := make([]uint16, len(t.Float32))
	for i, v := range t.Float32 {
		h[i] = Float32ToFloat16(v)
	}
	return &Tensor{DType: Float16, Shape: append([]int64{}, t.Shape...), Float16: h}
}

func proto32(v int32) *int32 { return &v }

// Float32ToFloat16 rounds f to the nearest IEEE 754 half-precision value
// (ties to even), saturating to infinity and keeping NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // overflow
		return sign | 0x7c00
	case exp-127+15 <= 0: // subnormal or zero in half
		e := exp - 127 + 15
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	e := uint32(exp - 127 + 15)
	half := e<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(half)
}

// Float16ToFloat32 widens an IEEE 754 half-precision value.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		v := float32(mant) / 1024 / 16384 // 2^-14 * mant/1024
		if sign != 0 {
			return -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}
