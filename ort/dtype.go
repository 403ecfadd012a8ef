package ort

import (
	"fmt"

	ortgo "github.com/yalue/onnxruntime_go"
)

// DType is a tensor element type, as ONNX declares it.
type DType int

// Element types the session layer converts to and from.
const (
	Undefined DType = iota
	Float32
	Float16
	Float64
	Int32
	Int64
	Bool
	Uint8
	Int8
	Other
)

var dtypeNames = [...]string{"undefined", "float32", "float16", "float64", "int32", "int64", "bool", "uint8", "int8", "other"}

// String returns the numpy-style name of d.
func (d DType) String() string {
	if d < 0 || int(d) >= len(dtypeNames) {
		return fmt.Sprintf("dtype(%d)", int(d))
	}
	return dtypeNames[d]
}

// Float reports whether d is a floating-point type.
func (d DType) Float() bool { return d == Float32 || d == Float16 || d == Float64 }

func fromORT(t ortgo.TensorElementDataType) DType {
	switch t {
	case ortgo.TensorElementDataTypeFloat:
		return Float32
	case ortgo.TensorElementDataTypeFloat16:
		return Float16
	case ortgo.TensorElementDataTypeDouble:
		return Float64
	case ortgo.TensorElementDataTypeInt32:
		return Int32
	case ortgo.TensorElementDataTypeInt64:
		return Int64
	case ortgo.TensorElementDataTypeBool:
		return Bool
	case ortgo.TensorElementDataTypeUint8:
		return Uint8
	case ortgo.TensorElementDataTypeInt8:
		return Int8
	case ortgo.TensorElementDataTypeUndefined:
		return Undefined
	}
	return Other
}
