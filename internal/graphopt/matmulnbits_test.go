package graphopt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

// TestQuantizeNBitsRoundTrip checks the packing against the definition:
// every weight comes back within half a step of its block's scale, zero
// stays exact, and the codes sit where MatMulNBits reads them.
func TestQuantizeNBitsRoundTrip(t *testing.T) {
	for _, c := range []struct{ bits, block, n, k int }{
		{4, 16, 3, 40}, {4, 32, 5, 64}, {8, 16, 3, 40}, {8, 128, 2, 300}, {4, 128, 2, 300},
	} {
		t.Run(fmt.Sprintf("bits%d/block%d/k%d", c.bits, c.block, c.k), func(t *testing.T) {
			w := wave(c.n*c.k, 0.37)
			w[1] = 0
			q := quantizeNBits(w, c.n, c.k, c.bits, c.block, nil)
			nb := (c.k + c.block - 1) / c.block
			if len(q.packed) != c.n*nb*c.block*c.bits/8 || len(q.scales) != c.n*nb || len(q.zeroPoints) != c.n*((nb*c.bits+7)/8) {
				t.Fatalf("sizes %d %d %d", len(q.packed), len(q.scales), len(q.zeroPoints))
			}
			got := q.dequantize()
			for i := range w {
				r, kk := i/c.k, i%c.k
				step := q.scales[r*nb+kk/c.block]
				if d := math.Abs(float64(got[i] - w[i])); d > float64(step)/2*1.0001 {
					t.Fatalf("w[%d] = %g came back %g (step %g)", i, w[i], got[i], step)
				}
			}
			if got[1] != 0 {
				t.Errorf("zero came back %g", got[1])
			}
		})
	}
}

// TestQuantizeMatMulMatchesDequantized runs MatMul graphs in the layouts
// exporters write (a [K, N] weight, a transposed Linear weight behind a
// Cast from float16, Gemm with transB and a bias) through QuantizeMatMul
// and ONNX Runtime: the MatMulNBits output must equal the float product
// with the weight dequantized here, within float32 rounding. It is also
// the check that ONNX Runtime takes 8-bit codes.
func TestQuantizeMatMulMatchesDequantized(t *testing.T) {
	testort.Init(t)
	const m, k, n = 6, 80, 24
	for _, layout := range []string{"matmul", "cast-transpose", "gemm-bias"} {
		for _, bits := range []int{4, 8} {
			for _, block := range []int{16, 32, 64} {
				t.Run(fmt.Sprintf("%s/bits%d/block%d", layout, bits, block), func(t *testing.T) {
					model, wNK, bias := matmulModel(layout, m, k, n)
					rep, err := QuantizeMatMul(model, NBitsOptions{Bits: bits, BlockSize: block, MinWeights: -1})
					if err != nil {
						t.Fatal(err)
					}
					if rep.Quantized != 1 || countOp(model, "MatMulNBits") != 1 || countOp(model, "MatMul")+countOp(model, "Gemm")+countOp(model, "Transpose")+countOp(model, "Cast") != 0 {
						t.Fatalf("report %+v; graph %v", rep, model.Graph.Node)
					}
					wantInits := 3 // codes, scales, zero points; the float weight is gone
					if bias != nil {
						wantInits++
					}
					if len(model.Graph.Initializer) != wantInits {
						t.Fatalf("%d initializers left, want %d", len(model.Graph.Initializer), wantInits)
					}
					deq := quantizeNBits(wNK, n, k, bits, block, nil).dequantize()
					a := wave(m*k, 1.3)
					want := make([]float32, m*n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							for kk := 0; kk < k; kk++ {
								s += float64(a[i*k+kk]) * float64(deq[j*k+kk])
							}
							if bias != nil {
								s += float64(bias[j])
							}
							want[i*n+j] = float32(s)
						}
					}
					data, err := proto.Marshal(model)
					if err != nil {
						t.Fatal(err)
					}
					got := run(t, data, ort.Tensor{Shape: []int64{m, k}, F32: a})
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("y[%d]: got %g, want %g", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

func TestQuantizeMatMulOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  NBitsOptions
	}{
		{"3 bits", NBitsOptions{Bits: 3}},
		{"block 24", NBitsOptions{Bits: 4, BlockSize: 24}},
		{"block 8", NBitsOptions{Bits: 4, BlockSize: 8}},
		{"accuracy 5", NBitsOptions{Bits: 4, AccuracyLevel: 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			model, _, _ := matmulModel("matmul", 2, 32, 32)
			if _, err := QuantizeMatMul(model, c.opt); err == nil {
				t.Fatal("got no error")
			}
			if countOp(model, "MatMul") != 1 {
				t.Fatal("graph changed on error")
			}
		})
	}
	model, _, _ := matmulModel("matmul", 2, 32, 32) // 1024 weights, under the default minimum
	rep, err := QuantizeMatMul(model, NBitsOptions{Bits: 4})
	if err != nil || rep.Quantized != 0 || rep.Kept != 1 || countOp(model, "MatMul") != 1 {
		t.Fatalf("got %+v, %v; want the small weight kept in float", rep, err)
	}
}

func countOp(m *onnxpb.ModelProto, typ string) int {
	c := 0
	for _, n := range m.Graph.Node {
		if n.GetOpType() == typ {
			c++
		}
	}
	return c
}

// noise is n deterministic standard normal values: weights and
// activations whose products do not cancel the way smooth waves' do.
func noise(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func wave(n int, f float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.Sin(float64(i)*f) * (1 + 0.5*math.Cos(float64(i)*0.011)))
	}
	return out
}

// matmulModel builds y = a·W (+ bias) for a [m, k] input, the weight in
// the given layout; it returns the weight as the [n, k] matrix MatMulNBits
// stores, and the bias (nil when none).
func matmulModel(layout string, m, k, n int) (*onnxpb.ModelProto, []float32, []float32) {
	wNK := noise(n*k, 1)
	for i := range wNK {
		wNK[i] *= 0.05
	}
	if layout == "cast-transpose" { // the float16 weight is what the graph holds
		for i, v := range wNK {
			wNK[i] = onnxexport.Float16ToFloat32(onnxexport.Float32ToFloat16(v))
		}
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: attrs}
	}
	var nodes []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto
	var bias []float32
	switch layout {
	case "matmul":
		wKN := make([]float32, k*n)
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				wKN[j*n+i] = wNK[i*k+j]
			}
		}
		inits = append(inits, onnxexport.EncodeTensor("w", onnxexport.NewFloat32([]int64{int64(k), int64(n)}, wKN)))
		nodes = append(nodes, node("MatMul", []string{"a", "w"}, "y"))
	case "cast-transpose":
		h := make([]uint16, len(wNK))
		for i, v := range wNK {
			h[i] = onnxexport.Float32ToFloat16(v)
		}
		inits = append(inits, onnxexport.EncodeTensor("w16", &onnxexport.Tensor{DType: onnxexport.Float16, Shape: []int64{int64(n), int64(k)}, Float16: h}))
		nodes = append(nodes,
			node("Cast", []string{"w16"}, "w32", intAttrProto("to", int64(onnxexport.Float32))),
			node("Transpose", []string{"w32"}, "wt", &onnxpb.AttributeProto{Name: proto.String("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 0}}),
			node("MatMul", []string{"a", "wt"}, "y"))
	case "gemm-bias":
		bias = wave(n, 2.1)
		inits = append(inits,
			onnxexport.EncodeTensor("w", onnxexport.NewFloat32([]int64{int64(n), int64(k)}, wNK)),
			onnxexport.EncodeTensor("c", onnxexport.NewFloat32([]int64{int64(n)}, bias)))
		nodes = append(nodes, node("Gemm", []string{"a", "w", "c"}, "y", intAttrProto("transB", 1)))
	}
	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		var ds []*onnxpb.TensorShapeProto_Dimension
		for _, d := range dims {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("matmul"), Initializer: inits, Node: nodes,
		Input:  []*onnxpb.ValueInfoProto{vi("a", int64(m), int64(k))},
		Output: []*onnxpb.ValueInfoProto{vi("y", int64(m), int64(n))},
	}
	return &onnxpb.ModelProto{
		IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
	}, wNK, bias
}

func run(t *testing.T, data []byte, a ort.Tensor) []float32 {
	t.Helper()
	s, err := ort.OpenBytes("quantized", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{"y": {}}
	if err := s.Run(context.Background(), map[string]ort.Tensor{"a": a}, out); err != nil {
		t.Fatal(err)
	}
	return out["y"].F32
}

// TestQuantizeConv runs a 3x3 convolution with bias through QuantizeConv:
// the graph becomes DynamicQuantizeLinear + ConvInteger, and its output
// stays within 30 dB SNR of float32 on random data (measured 44 dB).
func TestQuantizeConv(t *testing.T) {
	testort.Init(t)
	model := convModel(48, false)
	data, err := proto.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	x := ort.Tensor{Shape: []int64{1, 48, 8, 8}, F32: noise(48*64, 2)}
	want := runConv(t, data, x)
	rep, err := QuantizeConv(model, ConvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Quantized != 1 || countOp(model, "ConvInteger") != 1 || countOp(model, "Conv") != 0 || rep.PackedBytes*3 > rep.FloatBytes {
		t.Fatalf("report %+v, graph %v", rep, model.Graph.Node)
	}
	if data, err = proto.Marshal(model); err != nil {
		t.Fatal(err)
	}
	got := runConv(t, data, x)
	s := snr(want, got)
	t.Logf("SNR %.1f dB", s)
	if s < 30 || math.IsInf(s, 1) {
		t.Fatalf("SNR %.1f dB against float32, want at least 30 and not exact", s)
	}
	small := convModel(4, false) // 144 weights: under the minimum, kept
	if rep, err := QuantizeConv(small, ConvOptions{}); err != nil || rep.Kept != 1 || countOp(small, "Conv") != 1 {
		t.Fatalf("small conv: %+v, %v", rep, err)
	}
}

func runConv(t *testing.T, data []byte, x ort.Tensor) []float32 {
	t.Helper()
	s, err := ort.OpenBytes("conv", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{"y": {}}
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": x}, out); err != nil {
		t.Fatal(err)
	}
	return out["y"].F32
}
