package ort

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// maxCastRewriteBytes bounds the model files whose float16 outputs are
// rewritten (see castFloat16IO): graphs whose weights sit in external
// data are a few MiB; a file with its weights inside would be held twice.
const maxCastRewriteBytes = 64 << 20

// needsFloat16Cast reports whether a model declares a float16 output or a
// float16 scalar input, which castFloat16IO rewrites.
func needsFloat16Cast(m *ModelSummary) bool {
	for _, o := range m.Outputs {
		if o.DType == Float16 {
			return true
		}
	}
	for _, in := range m.Inputs {
		if in.DType == Float16 && in.Shape != nil && len(in.Shape) == 0 {
			return true
		}
	}
	return false
}

// castFloat16IO rewrites a serialized model so that every float16 graph
// output is cast to float32 inside the graph, and every float16 scalar
// input (a timestep) is declared float32 and cast to float16 inside it. onnxruntime_go copies
// float16 outputs that ONNX Runtime allocates with half their bytes, so a
// float16 output whose shape cannot be known before the run (a text
// encoder's sequence length named after an internal node) could not be
// read; cast in the graph, ONNX Runtime allocates float32 instead, and
// the values are the same (float16 to float32 is exact). onnxruntime_go
// cannot make float16 scalars at all; ONNX's Cast rounds to nearest even as
// the host conversion does. Float16-I/O exports (AMD's _io16 models) need
// it. It returns nil when there is nothing to rewrite.
func castFloat16IO(data []byte) ([]byte, error) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	g := m.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%w: no graph", ErrFormat)
	}
	produced := map[string]bool{}
	for _, n := range g.Node {
		for _, o := range n.Output {
			produced[o] = true
		}
	}
	const f32, f16 = int32(onnxpb.TensorProto_FLOAT), int32(onnxpb.TensorProto_FLOAT16)
	var casts []*onnxpb.NodeProto
	for _, v := range g.Output {
		tt := v.GetType().GetTensorType()
		if tt.GetElemType() != f16 || !produced[v.GetName()] {
			continue
		}
		name, inner := v.GetName(), v.GetName()+"/imagegen_float16"
		for _, n := range g.Node {
			renameIn(n.Input, name, inner)
			renameIn(n.Output, name, inner)
		}
		for _, vi := range g.ValueInfo {
			if vi.GetName() == name {
				vi.Name = proto.String(inner)
			}
		}
		tt.ElemType = proto.Int32(f32)
		casts = append(casts, castNode(inner, name, f32))
	}
	var inCasts []*onnxpb.NodeProto
	for _, v := range g.Input {
		tt := v.GetType().GetTensorType()
		if tt.GetElemType() != f16 || tt.GetShape() == nil || len(tt.GetShape().GetDim()) != 0 {
			continue
		}
		name, inner := v.GetName(), v.GetName()+"/imagegen_float16"
		for _, n := range g.Node {
			renameIn(n.Input, name, inner)
		}
		tt.ElemType = proto.Int32(f32)
		inCasts = append(inCasts, castNode(name, inner, f16))
	}
	if len(casts) == 0 && len(inCasts) == 0 {
		return nil, nil
	}
	g.Node = append(append(inCasts, g.Node...), casts...)
	return proto.Marshal(m)
}

func castNode(in, out string, to int32) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{
		Name: proto.String("imagegen_cast_" + out), OpType: proto.String("Cast"),
		Input: []string{in}, Output: []string{out},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("to"), I: proto.Int64(int64(to)), Type: onnxpb.AttributeProto_INT.Enum()}},
	}
}

func renameIn(names []string, from, to string) {
	for i, x := range names {
		if x == from {
			names[i] = to
		}
	}
}

// openCastFloat16 opens the model at path with its float16 outputs and
// scalar inputs cast in the graph (castFloat16IO), or returns nil, nil when the file is too
// large to rewrite or has nothing to cast.
func openCastFloat16(path string, opts Options) (*Session, error) {
	st, err := os.Stat(path)
	if err != nil || st.Size() > maxCastRewriteBytes {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ort: open model: %w", err)
	}
	rewritten, err := castFloat16IO(data)
	if err != nil || rewritten == nil {
		return nil, err
	}
	// A model opened from bytes finds its external data through this key.
	cfg := map[string]string{"session.model_external_initializers_file_folder_path": filepath.Dir(path)}
	for k, v := range opts.Config {
		cfg[k] = v
	}
	opts.Config = cfg
	return OpenBytes(path, rewritten, opts)
}
