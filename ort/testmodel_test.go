package ort

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Hand-written ONNX protobuf for tiny single-node test models, so the
// session layer's tests need nothing but ONNX Runtime itself.

type tvi struct {
	name  string
	dtype int   // TensorProto.DataType
	dims  []any // int64 for static, string for symbolic
}

type tnode struct {
	op      string
	inputs  []string
	outputs []string
	attrs   [][]byte // encoded AttributeProto
}

func intAttr(name string, v int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 3, protowire.VarintType) // i
	b = protowire.AppendVarint(b, uint64(v))
	b = protowire.AppendTag(b, 20, protowire.VarintType) // type INT = 2
	b = protowire.AppendVarint(b, 2)
	return b
}

func valueInfo(v tvi) []byte {
	var shape []byte
	for _, d := range v.dims {
		var dim []byte
		switch d := d.(type) {
		case int:
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		case string:
			dim = protowire.AppendTag(dim, 2, protowire.BytesType)
			dim = protowire.AppendString(dim, d)
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(v.dtype))
	tensor = protowire.AppendTag(tensor, 2, protowire.BytesType)
	tensor = protowire.AppendBytes(tensor, shape)
	var typ []byte
	typ = protowire.AppendTag(typ, 1, protowire.BytesType)
	typ = protowire.AppendBytes(typ, tensor)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, v.name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, typ)
	return b
}

// tinit is a float32 initializer.
type tinit struct {
	name string
	dims []int64
	data []float32
}

func (ti tinit) encode() []byte {
	var b []byte
	for _, d := range ti.dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, onnxFloat)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendString(b, ti.name)
	raw := make([]byte, 0, 4*len(ti.data))
	for _, v := range ti.data {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	return protowire.AppendBytes(b, raw)
}

func buildModel(nodes []tnode, inputs, outputs []tvi) []byte {
	return buildModelInit(nodes, inputs, outputs, nil)
}

func buildModelInit(nodes []tnode, inputs, outputs []tvi, inits []tinit) []byte {
	var g []byte
	for _, ti := range inits {
		g = protowire.AppendTag(g, 5, protowire.BytesType)
		g = protowire.AppendBytes(g, ti.encode())
	}
	for _, n := range nodes {
		var nb []byte
		for _, in := range n.inputs {
			nb = protowire.AppendTag(nb, 1, protowire.BytesType)
			nb = protowire.AppendString(nb, in)
		}
		for _, out := range n.outputs {
			nb = protowire.AppendTag(nb, 2, protowire.BytesType)
			nb = protowire.AppendString(nb, out)
		}
		nb = protowire.AppendTag(nb, 4, protowire.BytesType)
		nb = protowire.AppendString(nb, n.op)
		for _, a := range n.attrs {
			nb = protowire.AppendTag(nb, 5, protowire.BytesType)
			nb = protowire.AppendBytes(nb, a)
		}
		g = protowire.AppendTag(g, 1, protowire.BytesType)
		g = protowire.AppendBytes(g, nb)
	}
	g = protowire.AppendTag(g, 2, protowire.BytesType)
	g = protowire.AppendString(g, "test")
	for _, v := range inputs {
		g = protowire.AppendTag(g, 11, protowire.BytesType)
		g = protowire.AppendBytes(g, valueInfo(v))
	}
	for _, v := range outputs {
		g = protowire.AppendTag(g, 12, protowire.BytesType)
		g = protowire.AppendBytes(g, valueInfo(v))
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType) // ir_version
	m = protowire.AppendVarint(m, 8)
	var opset []byte
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, 17)
	m = protowire.AppendTag(m, 8, protowire.BytesType)
	m = protowire.AppendBytes(m, opset)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendBytes(m, g)
	return m
}

// ONNX TensorProto data types used in tests.
const (
	onnxFloat   = 1
	onnxInt32   = 6
	onnxInt64   = 7
	onnxFloat16 = 10
)
