package graphopt

import (
	"context"
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

// BenchmarkMatMulNBits times one MatMul of SD 1.5 UNet shapes at 256x256
// (batch 2 with classifier-free guidance) in float32 and as MatMulNBits,
// one thread; snr-dB is the output's signal-to-noise ratio against float
// (random weights and inputs). acc4 is accuracy_level 4: ONNX Runtime
// quantizes the activations to int8 per block and multiplies integers.
// It is how the block size and the minimum weight size were chosen:
//
//	go test ./internal/graphopt -run XXX -bench MatMulNBits -benchtime 20x
func BenchmarkMatMulNBits(b *testing.B) {
	testort.Init(b)
	for _, sh := range []struct {
		name    string
		m, k, n int
	}{
		{"small-2048x32x32", 2048, 32, 32},
		{"small-2048x64x64", 2048, 64, 64},
		{"time-emb-2x320x1280", 2, 320, 1280},
		{"attn-proj-2048x320x320", 2048, 320, 320},
		{"geglu-2048x320x2560", 2048, 320, 2560},
		{"geglu-128x1280x10240", 128, 1280, 10240},
	} {
		a := ort.Tensor{Shape: []int64{int64(sh.m), int64(sh.k)}, F32: noise(sh.m*sh.k, 2)}
		var ref []float32
		for _, v := range []struct {
			name            string
			bits, size, acc int
		}{
			{"float32", 0, 0, 0}, {"int8-b32", 8, 32, 0}, {"int8-b128", 8, 128, 0}, {"int8-b32-acc4", 8, 32, 4},
			{"int4-b32", 4, 32, 0}, {"int4-b64", 4, 64, 0}, {"int4-b128", 4, 128, 0}, {"int4-b32-acc4", 4, 32, 4},
		} {
			model, _, _ := matmulModel("matmul", sh.m, sh.k, sh.n)
			if v.bits != 0 {
				if _, err := QuantizeMatMul(model, NBitsOptions{Bits: v.bits, BlockSize: v.size, AccuracyLevel: v.acc, MinWeights: -1}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(sh.name+"/"+v.name, func(b *testing.B) {
				got := benchRun(b, model, "a", a)
				if ref == nil {
					ref = got
				}
				b.ReportMetric(snr(ref, got), "snr-dB")
			})
		}
	}
}

// BenchmarkConvInteger times a 3x3 convolution of the SD 1.5 UNet's first
// level at 256x256 (batch 2, 320 channels, 32x32) in float32 and as ONNX
// Runtime's int8 path: DynamicQuantizeLinear on the activations,
// ConvInteger with per-channel symmetric uint8 weights, then the scales
// and bias in float. It is the measurement behind keeping convolutions
// float (see the README's Quantization section).
//
//	go test ./internal/graphopt -run XXX -bench ConvInteger -benchtime 10x
func BenchmarkConvInteger(b *testing.B) {
	testort.Init(b)
	const n, c, hw = 2, 320, 32
	x := ort.Tensor{Shape: []int64{n, c, hw, hw}, F32: noise(n*c*hw*hw, 2)}
	var ref []float32
	for _, quant := range []bool{false, true} {
		name := "float32"
		if quant {
			name = "int8-dynamic"
		}
		model := convModel(c, quant)
		b.Run(name, func(b *testing.B) {
			got := benchRun(b, model, "x", x)
			if ref == nil {
				ref = got
			}
			b.ReportMetric(snr(ref, got), "snr-dB")
		})
	}
}

func benchRun(b *testing.B, m *onnxpb.ModelProto, input string, x ort.Tensor) []float32 {
	b.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ort.OpenBytes("bench", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{"y": {}}
	in := map[string]ort.Tensor{input: x}
	if err := s.Run(context.Background(), in, out); err != nil { // warm-up, outside the timing
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Run(context.Background(), in, out); err != nil {
			b.Fatal(err)
		}
	}
	return out["y"].F32
}

// snr is 10·log10 of the reference's energy over the difference's.
func snr(ref, got []float32) float64 {
	var s, d float64
	for i := range ref {
		s += float64(ref[i]) * float64(ref[i])
		e := float64(got[i] - ref[i])
		d += e * e
	}
	if d == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(s/d)
}

// convModel is y = conv3x3(x, w) + bias with c channels in and out, in
// float or through DynamicQuantizeLinear and ConvInteger.
func convModel(c int, quant bool) *onnxpb.ModelProto {
	w := noise(c*c*9, 3)
	for i := range w {
		w[i] *= float32(1 / math.Sqrt(float64(c*9)))
	}
	bias := noise(c, 4)
	node := func(op string, in []string, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out[0]), Input: in, Output: out, Attribute: attrs}
	}
	pads := &onnxpb.AttributeProto{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}
	f32 := func(name string, shape []int64, v []float32) *onnxpb.TensorProto {
		return onnxexport.EncodeTensor(name, onnxexport.NewFloat32(shape, v))
	}
	cc := int64(c)
	var inits []*onnxpb.TensorProto
	var nodes []*onnxpb.NodeProto
	if !quant {
		inits = append(inits, f32("w", []int64{cc, cc, 3, 3}, w), f32("b", []int64{cc}, bias))
		nodes = append(nodes, node("Conv", []string{"x", "w", "b"}, []string{"y"}, pads))
	} else {
		// Symmetric per output channel, stored as uint8 around 128 (the
		// weight type ONNX Runtime's CPU ConvInteger takes).
		wq := make([]byte, len(w))
		scales := make([]float32, c)
		for o := 0; o < c; o++ {
			var mx float32
			for _, v := range w[o*c*9 : (o+1)*c*9] {
				mx = max(mx, float32(math.Abs(float64(v))))
			}
			scales[o] = mx / 127
			for i := o * c * 9; i < (o+1)*c*9; i++ {
				wq[i] = byte(128 + int(math.Round(float64(w[i]/scales[o]))))
			}
		}
		u8 := int32(onnxpb.TensorProto_UINT8)
		inits = append(inits,
			&onnxpb.TensorProto{Name: proto.String("wq"), DataType: &u8, Dims: []int64{cc, cc, 3, 3}, RawData: wq},
			&onnxpb.TensorProto{Name: proto.String("wzp"), DataType: &u8, RawData: []byte{128}},
			f32("ws", []int64{1, cc, 1, 1}, scales), f32("b", []int64{1, cc, 1, 1}, bias))
		nodes = append(nodes,
			node("DynamicQuantizeLinear", []string{"x"}, []string{"xq", "xs", "xzp"}),
			node("ConvInteger", []string{"xq", "wq", "xzp", "wzp"}, []string{"yi"}, pads),
			node("Cast", []string{"yi"}, []string{"yf"}, intAttrProto("to", int64(onnxexport.Float32))),
			node("Mul", []string{"yf", "xs"}, []string{"y1"}),
			node("Mul", []string{"y1", "ws"}, []string{"y2"}),
			node("Add", []string{"y2", "b"}, []string{"y"}))
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	return &onnxpb.ModelProto{
		IrVersion: proto.Int64(8),
		Graph: &onnxpb.GraphProto{Name: proto.String(fmt.Sprintf("conv%d", c)), Initializer: inits, Node: nodes,
			Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: []*onnxpb.ValueInfoProto{vi("y")}},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
	}
}
