package pipeline

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/tokenizer"
)

// TestEncodeChunkedEmphasis checks the weighted encoding of one prompt
// against the plain encoding of the same words, scaled by hand: the token
// rows times their weights, then the whole times (mean before / mean after).
func TestEncodeChunkedEmphasis(t *testing.T) {
	testort.Init(t)
	pl, err := loadDiffusion(context.Background(), conformance.Dir(t, "sd1-tiny"), FamilySD, &modelIndex{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.close()
	te := pl.(*diffusionPipeline).encoders[0]
	got, err := te.encodeChunked(context.Background(), "a (red:1.3) [cat] sitting", lastHidden, noPooled)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := te.encode(context.Background(), "a red cat sitting", 77, lastHidden, noPooled)
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != 77 || plain.seq != 77 {
		t.Fatalf("seq %d and %d, want 77", got.seq, plain.seq)
	}
	// Tokens: <start> a red cat sitting <end> ...: red is token 2, cat 3.
	weights := make([]float64, 77)
	for i := range weights {
		weights[i] = 1
	}
	weights[2], weights[3] = 1.3, 1/1.1
	var before, after float64
	want := make([]float64, len(plain.hidden))
	for i, v := range plain.hidden {
		before += float64(v)
		want[i] = float64(v) * float64(float32(weights[i/plain.dim]))
		after += want[i]
	}
	for i := range want {
		want[i] *= before / after
		if d := math.Abs(float64(got.hidden[i]) - want[i]); d > 1e-5*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("hidden[%d] = %v, want %v", i, got.hidden[i], want[i])
		}
	}
}

// TestFinalLayerNorm checks the host-side final layer norm of clip skip:
// applied to the state the ONNX graph feeds its own final layer norm
// (exposed here as an extra output), it must give last_hidden_state.
func TestFinalLayerNorm(t *testing.T) {
	testort.Init(t)
	dir := filepath.Join(t.TempDir(), "text_encoder")
	src := filepath.Join(conformance.Dir(t, "sd1-tiny"), "text_encoder")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.onnx", "config.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "model.onnx" {
			b = exposeFinalLNInput(t, b)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := ort.Open(filepath.Join(dir, "model.onnx"), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	tok, err := tokenizer.Load(filepath.Join(conformance.Dir(t, "sd1-tiny"), "tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	te := newTextEncoder("text_encoder", tok, sess)
	if len(te.hidden) != 1 {
		t.Fatalf("hidden outputs %v, want the exposed one", te.hidden)
	}
	ids := tok.EncodePadded("a red cat sitting", 77)
	want, err := te.run(context.Background(), ids, lastHidden, noPooled)
	if err != nil {
		t.Fatal(err)
	}
	// hidden_states[-1] through the final layer norm: clip skip 1 spelled
	// the long way (skip 0 from the penultimate slot of a one-entry list
	// is not possible, so read the state directly).
	out := map[string]*ort.Tensor{te.hidden[0]: {}}
	ids64 := make([]int64, len(ids))
	for i, id := range ids {
		ids64[i] = int64(id)
	}
	if err := sess.Run(context.Background(), map[string]ort.Tensor{"input_ids": {Shape: []int64{1, 77}, I64: ids64}}, out); err != nil {
		t.Fatal(err)
	}
	got := out[te.hidden[0]].F32
	if err := te.finalLayerNorm(got, want.dim); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want.hidden[i])); d > 1e-4 {
			t.Fatalf("value %d: %v after the host layer norm, %v from the graph", i, got[i], want.hidden[i])
		}
	}
}

// exposeFinalLNInput adds the input of the graph's last LayerNormalization
// as an output named hidden_states.12.
func exposeFinalLNInput(t *testing.T, data []byte) []byte {
	t.Helper()
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	var last *onnxpb.NodeProto
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "LayerNormalization" {
			last = n
		}
	}
	if last == nil {
		t.Fatal("no LayerNormalization node")
	}
	m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"), Name: proto.String("expose"),
		Input: []string{last.Input[0]}, Output: []string{"hidden_states.12"}})
	m.Graph.Output = append(m.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("hidden_states.12"),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "b"}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "s"}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "d"}}}}}}}})
	out, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
