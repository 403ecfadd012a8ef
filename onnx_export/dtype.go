package onnxexport

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// DType is a tensor element type. Its values are ONNX's TensorProto data
// type numbers, so they convert directly to and from the protobuf.
type DType int32

// Element types the builder and reader understand.
const (
	Undefined DType = DType(onnxpb.TensorProto_UNDEFINED)
	Float32   DType = DType(onnxpb.TensorProto_FLOAT)
	Uint8     DType = DType(onnxpb.TensorProto_UINT8)
	Int8      DType = DType(onnxpb.TensorProto_INT8)
	Int32     DType = DType(onnxpb.TensorProto_INT32)
	Int64     DType = DType(onnxpb.TensorProto_INT64)
	Bool      DType = DType(onnxpb.TensorProto_BOOL)
	Float16   DType = DType(onnxpb.TensorProto_FLOAT16)
	Float64   DType = DType(onnxpb.TensorProto_DOUBLE)
)

// String returns the lower-case ONNX name of the type ("float", "int64").
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case Float64:
		return "float64"
	case Int64:
		return "int64"
	case Int32:
		return "int32"
	case Int8:
		return "int8"
	case Uint8:
		return "uint8"
	case Bool:
		return "bool"
	}
	name, ok := onnxpb.TensorProto_DataType_name[int32(d)]
	if ok {
		return strings.ToLower(name)
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// Size returns the number of bytes one element takes, or 0 when unknown.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float64, Int64:
		return 8
	case Float16:
		return 2
	case Bool, Int8, Uint8:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == Float16 || d == Float64 }

// Dim is one dimension of a Shape: a static Size, or Size < 0 for a dynamic
// dimension, optionally named by Param (ONNX's dim_param, e.g. "batch_size").
type Dim struct {
	Size  int64
	Param string
}

// D returns a static dimension of size n.
func D(n int64) Dim { return Dim{Size: n} }

// Sym returns a dynamic dimension named name.
func Sym(name string) Dim { return Dim{Size: -1, Param: name} }

// Known reports whether the dimension is static.
func (d Dim) Known() bool { return d.Size >= 0 }

// String returns the size, the parameter name, or "?".
func (d Dim) String() string {
	switch {
	case d.Known():
		return strconv.FormatInt(d.Size, 10)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// Shape is the shape of a value. A nil Shape means the rank is unknown; an
// empty non-nil Shape is a scalar.
type Shape []Dim

// Static returns a Shape of static dimensions.
func Static(dims ...int64) Shape {
	s := make(Shape, len(dims))
	for i, n := range dims {
		s[i] = D(n)
	}
	return s
}

// Rank returns the number of dimensions, or -1 when unknown.
func (s Shape) Rank() int {
	if s == nil {
		return -1
	}
	return len(s)
}

// IsStatic reports whether every dimension is known.
func (s Shape) IsStatic() bool {
	if s == nil {
		return false
	}
	for _, d := range s {
		if !d.Known() {
			return false
		}
	}
	return true
}

// Sizes returns the dimension sizes, -1 for dynamic ones.
func (s Shape) Sizes() []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = d.Size
	}
	return out
}

// NumElements returns the product of the sizes, or -1 if any is dynamic.
func (s Shape) NumElements() int64 {
	n := int64(1)
	for _, d := range s {
		if !d.Known() {
			return -1
		}
		n *= d.Size
	}
	return n
}

// String formats the shape as [batch_size,4,64,64].
func (s Shape) String() string {
	if s == nil {
		return "[?rank]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (s Shape) clone() Shape {
	if s == nil {
		return nil
	}
	return append(Shape{}, s...)
}

// sameDim reports whether two dimensions are provably equal.
func sameDim(a, b Dim) bool {
	if a.Known() && b.Known() {
		return a.Size == b.Size
	}
	return !a.Known() && !b.Known() && a.Param != "" && a.Param == b.Param
}

// compatibleDim reports whether two dimensions may be equal at run time.
func compatibleDim(a, b Dim) bool {
	return !a.Known() || !b.Known() || a.Size == b.Size
}

// broadcastShapes applies numpy broadcasting to a and b.
func broadcastShapes(a, b Shape) (Shape, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := range n {
		da, db := D(1), D(1)
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da.Known() && da.Size == 1:
			out[i] = db
		case db.Known() && db.Size == 1:
			out[i] = da
		case da.Known() && db.Known():
			if da.Size != db.Size {
				return nil, fmt.Errorf("shapes %v and %v do not broadcast (dim %d: %d vs %d)", a, b, i, da.Size, db.Size)
			}
			out[i] = da
		case da.Known():
			out[i] = da
		case db.Known():
			out[i] = db
		case sameDim(da, db):
			out[i] = da
		default:
			out[i] = Dim{Size: -1}
		}
	}
	return out, nil
}

// normAxis turns a possibly negative axis into 0..rank-1.
func normAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(a), nil
}
