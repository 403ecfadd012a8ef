package onnxexport

import (
	"fmt"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// AttrKind says which field of an Attr is set.
type AttrKind int

// Attribute kinds the builder writes and the reader decodes.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrTensor
)

// Attr is one node attribute; Kind says which field holds the value.
type Attr struct {
	Name   string
	Kind   AttrKind
	Int    int64
	Float  float32
	String string
	Ints   []int64
	Floats []float32
	Tensor *Tensor
}

// IntAttr returns an integer attribute.
func IntAttr(name string, v int64) Attr { return Attr{Name: name, Kind: AttrInt, Int: v} }

// FloatAttr returns a float attribute.
func FloatAttr(name string, v float32) Attr { return Attr{Name: name, Kind: AttrFloat, Float: v} }

// StringAttr returns a string attribute.
func StringAttr(name, v string) Attr { return Attr{Name: name, Kind: AttrString, String: v} }

// IntsAttr returns an integer-list attribute.
func IntsAttr(name string, v ...int64) Attr {
	return Attr{Name: name, Kind: AttrInts, Ints: append([]int64{}, v...)}
}

// FloatsAttr returns a float-list attribute.
func FloatsAttr(name string, v ...float32) Attr {
	return Attr{Name: name, Kind: AttrFloats, Floats: append([]float32{}, v...)}
}

// TensorAttr returns a tensor attribute (as Constant's "value").
func TensorAttr(name string, t *Tensor) Attr { return Attr{Name: name, Kind: AttrTensor, Tensor: t} }

func (a *Attr) toProto() *onnxpb.AttributeProto {
	p := &onnxpb.AttributeProto{Name: &a.Name}
	set := func(t onnxpb.AttributeProto_AttributeType) { p.Type = &t }
	switch a.Kind {
	case AttrInt:
		p.I = &a.Int
		set(onnxpb.AttributeProto_INT)
	case AttrFloat:
		p.F = &a.Float
		set(onnxpb.AttributeProto_FLOAT)
	case AttrString:
		p.S = []byte(a.String)
		set(onnxpb.AttributeProto_STRING)
	case AttrInts:
		p.Ints = a.Ints
		set(onnxpb.AttributeProto_INTS)
	case AttrFloats:
		p.Floats = a.Floats
		set(onnxpb.AttributeProto_FLOATS)
	case AttrTensor:
		p.T = a.Tensor.toProto("")
		set(onnxpb.AttributeProto_TENSOR)
	}
	return p
}

func attrFromProto(p *onnxpb.AttributeProto) (Attr, error) {
	a := Attr{Name: p.GetName()}
	switch p.GetType() {
	case onnxpb.AttributeProto_INT:
		a.Kind, a.Int = AttrInt, p.GetI()
	case onnxpb.AttributeProto_FLOAT:
		a.Kind, a.Float = AttrFloat, p.GetF()
	case onnxpb.AttributeProto_STRING:
		a.Kind, a.String = AttrString, string(p.GetS())
	case onnxpb.AttributeProto_INTS:
		a.Kind, a.Ints = AttrInts, p.GetInts()
	case onnxpb.AttributeProto_FLOATS:
		a.Kind, a.Floats = AttrFloats, p.GetFloats()
	case onnxpb.AttributeProto_TENSOR:
		t, err := tensorFromProto(p.GetT(), "")
		if err != nil {
			return a, err
		}
		a.Kind, a.Tensor = AttrTensor, t
	default:
		return a, fmt.Errorf("attribute %q: type %v not supported", a.Name, p.GetType())
	}
	return a, nil
}
