package graphopt_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/graphopt"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

func readModel(t *testing.T, path string) (*onnxpb.ModelProto, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	return m, data
}

func countOps(m *onnxpb.ModelProto, typ string) int {
	n := 0
	for _, node := range m.GetGraph().GetNode() {
		if node.GetOpType() == typ {
			n++
		}
	}
	return n
}

// TestFuseAttentionTinyCheckpoints runs the pass over the tiny diffusers
// exports. Their UNet attention is torch's decomposition of
// scaled_dot_product_attention (head size and scale computed from shapes
// at run time): every one is fused, and the UNet's output stays within
// 1e-5 of the unfused graph's. The text encoder's attention is masked
// (causal), which MultiHeadAttention as written here does not express, so
// it is left alone.
func TestFuseAttentionTinyCheckpoints(t *testing.T) {
	testort.Init(t)
	for _, c := range []struct {
		ckpt, component string
		fused           bool
	}{
		{"sd1-tiny", "unet", true}, {"sdxl-tiny", "unet", true}, {"sd1-tiny", "text_encoder", false},
	} {
		t.Run(c.ckpt+"/"+c.component, func(t *testing.T) {
			m, orig := readModel(t, filepath.Join(conformance.Dir(t, c.ckpt), c.component, "model.onnx"))
			softmax := countOps(m, "Softmax")
			n, err := graphopt.FuseAttention(m)
			if err != nil {
				t.Fatal(err)
			}
			if !c.fused {
				if n != 0 || countOps(m, "Softmax") != softmax {
					t.Fatalf("got %d fused, %d Softmax (was %d); want the graph untouched", n, countOps(m, "Softmax"), softmax)
				}
				return
			}
			if n != softmax || countOps(m, "Softmax") != 0 || countOps(m, "MultiHeadAttention") != softmax {
				t.Fatalf("fused %d of %d attentions; %d Softmax left", n, softmax, countOps(m, "Softmax"))
			}
			fused, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			in := unetInputs(t, orig)
			want := runModel(t, "orig", orig, in)
			got := runModel(t, "fused", fused, in)
			if len(got) != len(want) {
				t.Fatalf("output length: got %d, want %d", len(got), len(want))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("out_sample[%d]: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// unetInputs makes inputs for a diffusers UNet export: a batch of two
// 16x16 latents (cond and uncond), a timestep and 7 tokens of context.
func unetInputs(t *testing.T, model []byte) map[string]ort.Tensor {
	t.Helper()
	s, err := ort.OpenBytes("unet", model, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]ort.Tensor{}
	for k, info := range s.Inputs() {
		shape := append([]int64(nil), info.Shape...)
		for i := range shape {
			if shape[i] >= 0 {
				continue
			}
			switch {
			case i == 0:
				shape[i] = 2
			case info.Name == "encoder_hidden_states":
				shape[i] = 7
			default:
				shape[i] = 16
			}
		}
		x := ort.Tensor{Shape: shape}
		x.F32 = wave(int64(x.Len()), 0.31+0.1*float64(k))
		if info.Name == "timestep" {
			for i := range x.F32 {
				x.F32[i] = 601
			}
		}
		in[info.Name] = x
	}
	return in
}

// TestFuseAttentionMatchesUnfused builds the attention imagegen's exporter
// writes (head split by constant Reshape + Transpose, key split straight
// to [B,h,d,S], query scaled by 1/sqrt(d)) and checks that ONNX Runtime
// gives the same output, element by element, before and after fusing.
func TestFuseAttentionMatchesUnfused(t *testing.T) {
	testort.Init(t)
	cases := []struct {
		name          string
		heads, dim, s int64
		t             int64 // key/value tokens (cross-attention when != s)
	}{
		{"self", 2, 4, 6, 6},
		{"cross", 4, 2, 5, 3},
		{"one-head", 1, 8, 7, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := attentionModel(c.heads, c.dim)
			orig, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			n, err := graphopt.FuseAttention(m)
			if err != nil || n != 1 {
				t.Fatalf("fused %d (err %v), want 1", n, err)
			}
			if countOps(m, "Softmax") != 0 || countOps(m, "MultiHeadAttention") != 1 || countOps(m, "Transpose") != 0 {
				t.Fatalf("fused graph still has the decomposed ops: %d nodes", len(m.Graph.Node))
			}
			fused, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			hid := c.heads * c.dim
			in := map[string]ort.Tensor{
				"q": {Shape: []int64{2, c.s, hid}, F32: wave(2*c.s*hid, 0.37)},
				"k": {Shape: []int64{2, c.t, hid}, F32: wave(2*c.t*hid, 0.53)},
				"v": {Shape: []int64{2, c.t, hid}, F32: wave(2*c.t*hid, 0.71)},
			}
			want := runModel(t, "orig", orig, in)
			got := runModel(t, "fused", fused, in)
			if len(got) != len(want) || len(want) != int(2*c.s*hid) {
				t.Fatalf("output length: got %d, want %d", len(got), len(want))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("output[%d]: got %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func wave(n int64, f float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*f) * 2)
	}
	return x
}

// attentionModel is softmax(q·kᵀ/sqrt(d))·v over inputs q [B,S,h*d] and
// k, v [B,T,h*d], in the node layout of onnx_export's scaledDotProduct.
func attentionModel(heads, dim int64) *onnxpb.ModelProto {
	f := onnxpb.TensorProto_FLOAT
	i64 := func(name string, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: []int64{int64(len(v))}, Int64Data: v}
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: attrs}
	}
	perm := func(p ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String("perm"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: p}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		dims := []*onnxpb.TensorShapeProto_Dimension{
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "B"}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "S_" + name}},
			{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: heads * dim}},
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(f)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("attention"),
		Initializer: []*onnxpb.TensorProto{
			i64("split", 0, 0, heads, dim), i64("merge", 0, 0, heads*dim),
			{Name: proto.String("scale"), DataType: proto.Int32(int32(f)), FloatData: []float32{float32(1 / math.Sqrt(float64(dim)))}},
		},
		Node: []*onnxpb.NodeProto{
			node("Reshape", []string{"q", "split"}, "qr"), node("Transpose", []string{"qr"}, "qt", perm(0, 2, 1, 3)),
			node("Reshape", []string{"k", "split"}, "kr"), node("Transpose", []string{"kr"}, "kt", perm(0, 2, 3, 1)),
			node("Reshape", []string{"v", "split"}, "vr"), node("Transpose", []string{"vr"}, "vt", perm(0, 2, 1, 3)),
			node("Mul", []string{"qt", "scale"}, "qs"), node("MatMul", []string{"qs", "kt"}, "scores"),
			node("Softmax", []string{"scores"}, "p", &onnxpb.AttributeProto{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(-1)}),
			node("MatMul", []string{"p", "vt"}, "o"), node("Transpose", []string{"o"}, "ot", perm(0, 2, 1, 3)),
			node("Reshape", []string{"ot", "merge"}, "y"),
		},
		Input:  []*onnxpb.ValueInfoProto{vi("q"), vi("k"), vi("v")},
		Output: []*onnxpb.ValueInfoProto{vi("y")},
	}
	return &onnxpb.ModelProto{
		IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
	}
}

func runModel(t *testing.T, name string, data []byte, in map[string]ort.Tensor) []float32 {
	t.Helper()
	s, err := ort.OpenBytes(name, data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{s.Outputs()[0].Name: {}}
	if err := s.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out[s.Outputs()[0].Name].F32
}

func TestFuseAttentionNoGraph(t *testing.T) {
	if _, err := graphopt.FuseAttention(&onnxpb.ModelProto{}); !errors.Is(err, graphopt.ErrNoGraph) {
		t.Fatalf("got %v, want ErrNoGraph", err)
	}
}

// TestFuseAttentionLeavesOddScales removes the key's sqrt(1/sqrt(d))
// factor from one attention of the sd1-tiny UNet: its scale is then
// d^-1/4, which MultiHeadAttention cannot take without a constant head
// size, so that attention must stay decomposed and the others fuse.
func TestFuseAttentionLeavesOddScales(t *testing.T) {
	m, _ := readModel(t, filepath.Join(conformance.Dir(t, "sd1-tiny"), "unet", "model.onnx"))
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range m.Graph.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	edited := false
	for _, n := range m.Graph.Node {
		if n.GetOpType() != "Softmax" {
			continue
		}
		qk := producer[n.Input[0]]
		if mul := producer[qk.Input[1]]; qk.GetOpType() == "MatMul" && mul != nil && mul.GetOpType() == "Mul" {
			qk.Input[1] = mul.Input[0]
			edited = true
		}
		break
	}
	if !edited {
		t.Fatal("the first attention has no scaled key to edit")
	}
	softmax := countOps(m, "Softmax")
	n, err := graphopt.FuseAttention(m)
	if err != nil || n != softmax-1 || countOps(m, "Softmax") != 1 {
		t.Fatalf("fused %d of %d (err %v), %d Softmax left; want all but the edited one", n, softmax, err, countOps(m, "Softmax"))
	}
}
