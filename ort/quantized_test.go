package ort_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

// TestQuantizedOperatorWithoutKernel opens a MatMulNBits model whose
// activations are bfloat16, for which ONNX Runtime has no kernel on any
// provider: the error names the operator and the device, and is not taken
// for a CUDA-only export.
func TestQuantizedOperatorWithoutKernel(t *testing.T) {
	testort.Init(t)
	const k, n = 32, 4
	i64 := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}
	vi := func(name string, dt onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, d := range dims {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(dt)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	}
	m := &onnxpb.ModelProto{
		IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{
			{Domain: proto.String(""), Version: proto.Int64(17)}, {Domain: proto.String("com.microsoft"), Version: proto.Int64(1)},
		},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("q"),
			Initializer: []*onnxpb.TensorProto{
				{Name: proto.String("b"), DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)), Dims: []int64{n, 1, k / 2}, RawData: make([]byte, n*k/2)},
				{Name: proto.String("s"), DataType: proto.Int32(int32(onnxpb.TensorProto_BFLOAT16)), Dims: []int64{n}, RawData: []byte{0x80, 0x3f, 0x80, 0x3f, 0x80, 0x3f, 0x80, 0x3f}},
			},
			Node: []*onnxpb.NodeProto{{
				OpType: proto.String("MatMulNBits"), Domain: proto.String("com.microsoft"), Name: proto.String("mm"),
				Input: []string{"a", "b", "s"}, Output: []string{"y"},
				Attribute: []*onnxpb.AttributeProto{i64("K", k), i64("N", n), i64("bits", 4), i64("block_size", k)},
			}},
			Input:  []*onnxpb.ValueInfoProto{vi("a", onnxpb.TensorProto_BFLOAT16, 2, k)},
			Output: []*onnxpb.ValueInfoProto{vi("y", onnxpb.TensorProto_BFLOAT16, 2, n)},
		},
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.OpenBytes("quantized", data, ort.Options{})
	if err == nil {
		s.Close()
		t.Fatal("opened, want an error")
	}
	if !errors.Is(err, ort.ErrNoKernel) || errors.Is(err, ort.ErrCUDAOnly) || !strings.Contains(err.Error(), "MatMulNBits on device cpu") {
		t.Fatalf("got %v, want ErrNoKernel naming MatMulNBits and the device", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
}
