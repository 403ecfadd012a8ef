package onnxexport

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// FormatError reports an ONNX file that cannot be decoded.
type FormatError struct {
	Path   string
	Reason string
}

func (e *FormatError) Error() string {
	return "onnxexport: invalid ONNX file " + e.Path + ": " + e.Reason
}

// ValueInfo is the declared type of a graph input or output.
type ValueInfo struct {
	Name  string
	DType DType
	Shape Shape
}

// Model is a decoded ONNX model: the protobuf (with initializer bytes
// released once decoded) plus its initializers as host tensors.
type Model struct {
	Proto        *onnxpb.ModelProto
	Initializers map[string]*Tensor
	Inputs       []ValueInfo // graph inputs that are not initializers
	Outputs      []ValueInfo
	Opset        int64 // default-domain opset version
	Metadata     map[string]string
}

// ReadModel reads and decodes the ONNX model at path, resolving external
// data files relative to its folder.
func ReadModel(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnxexport: read model: %w", err)
	}
	m, err := DecodeModel(data, filepath.Dir(path))
	if err != nil {
		if fe, ok := err.(*FormatError); ok {
			fe.Path = path
		}
		return nil, err
	}
	return m, nil
}

// DecodeModel decodes a serialized ONNX model; dir is the folder external
// data locations are relative to ("" forbids external data).
func DecodeModel(data []byte, dir string) (*Model, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, &FormatError{Reason: "protobuf: " + err.Error()}
	}
	if mp.Graph == nil {
		return nil, &FormatError{Reason: "model has no graph"}
	}
	m := &Model{Proto: mp, Initializers: map[string]*Tensor{}, Metadata: map[string]string{}}
	for _, op := range mp.OpsetImport {
		if op.GetDomain() == "" || op.GetDomain() == "ai.onnx" {
			m.Opset = op.GetVersion()
		}
	}
	for _, kv := range mp.MetadataProps {
		m.Metadata[kv.GetKey()] = kv.GetValue()
	}
	for _, tp := range mp.Graph.Initializer {
		t, err := tensorFromProto(tp, dir)
		if err != nil {
			return nil, &FormatError{Reason: fmt.Sprintf("initializer %q: %v", tp.GetName(), err)}
		}
		m.Initializers[tp.GetName()] = t
		tp.RawData = nil // the decoded copy is authoritative; free the bytes
	}
	for _, vi := range mp.Graph.Input {
		if _, isInit := m.Initializers[vi.GetName()]; isInit {
			continue
		}
		m.Inputs = append(m.Inputs, valueInfoFromProto(vi))
	}
	for _, vi := range mp.Graph.Output {
		m.Outputs = append(m.Outputs, valueInfoFromProto(vi))
	}
	return m, nil
}

func valueInfoFromProto(vi *onnxpb.ValueInfoProto) ValueInfo {
	out := ValueInfo{Name: vi.GetName()}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return out
	}
	out.DType = DType(tt.GetElemType())
	if tt.Shape != nil {
		out.Shape = Shape{}
		for _, d := range tt.Shape.Dim {
			switch v := d.Value.(type) {
			case *onnxpb.TensorShapeProto_Dimension_DimValue:
				out.Shape = append(out.Shape, D(v.DimValue))
			case *onnxpb.TensorShapeProto_Dimension_DimParam:
				out.Shape = append(out.Shape, Sym(v.DimParam))
			default:
				out.Shape = append(out.Shape, Dim{Size: -1})
			}
		}
	}
	return out
}

// OpCounts returns how many nodes of each op type the main graph has.
func (m *Model) OpCounts() map[string]int {
	counts := map[string]int{}
	for _, n := range m.Proto.GetGraph().GetNode() {
		counts[n.GetOpType()]++
	}
	return counts
}

// NumParams returns the number of trainable weights, counted the way
// PyTorch counts a module's parameters: the elements of floating-point
// initializers that are not helper constants (see NumConstants). For
// imagegen's SD 1.5 UNet export this is PyTorch's 859,520,964.
func (m *Model) NumParams() int64 {
	var n int64
	for name, t := range m.Initializers {
		if t.DType.IsFloat() && !isHelperConstant(name, t) {
			n += t.NumElements()
		}
	}
	return n
}

// Weights returns the initializers NumParams counts, by name: the
// trainable weights without the helper constants. Names are the module
// paths the exporter gave them (diffusers state-dict names for imagegen's
// own exports); a weight stored as float16 keeps its Float16WeightSuffix.
func (m *Model) Weights() map[string]*Tensor {
	out := map[string]*Tensor{}
	for name, t := range m.Initializers {
		if t.DType.IsFloat() && !isHelperConstant(name, t) {
			out[name] = t
		}
	}
	return out
}

// UniqueParams is NumParams over several models (the components of one
// checkpoint), counting once a tensor that several of them hold alike:
// the same name, shape and values, as the PixelCNN family's full, vstack
// and hrow graphs share their weights.
func UniqueParams(models ...*Model) int64 {
	var n int64
	seen := map[string]bool{}
	for _, m := range models {
		for name, t := range m.Initializers {
			if !t.DType.IsFloat() || isHelperConstant(name, t) {
				continue
			}
			key := fmt.Sprintf("%s %v %x", name, t.Shape, tensorDigest(t))
			if !seen[key] {
				seen[key] = true
				n += t.NumElements()
			}
		}
	}
	return n
}

// NumConstants returns the number of elements of floating-point
// initializers that are helper constants rather than weights: scalars
// (epsilons, attention scales) and the tensors imagegen's Builder.Const
// adds (named SCOPE.const_N: the ones and zeros of a GroupNorm lowered to
// InstanceNormalization, the timestep frequencies).
func (m *Model) NumConstants() int64 {
	var n int64
	for name, t := range m.Initializers {
		if t.DType.IsFloat() && isHelperConstant(name, t) {
			n += t.NumElements()
		}
	}
	return n
}

// tensorDigest is a SHA-256 of a floating-point tensor's values.
func tensorDigest(t *Tensor) []byte {
	h := sha256.New()
	switch {
	case t.Float32 != nil:
		binary.Write(h, binary.LittleEndian, t.Float32)
	case t.Float16 != nil:
		binary.Write(h, binary.LittleEndian, t.Float16)
	case t.Float64 != nil:
		binary.Write(h, binary.LittleEndian, t.Float64)
	}
	return h.Sum(nil)
}

// isHelperConstant reports whether the initializer name is a constant of
// the graph rather than a weight. Exporters name weights after their
// module (down_blocks.0.resnets.0.conv1.weight) or, when they fold a
// transpose into them, after the op (onnx::MatMul_1627), so names alone
// do not tell; a weight is never a scalar, and imagegen's exporter names
// its constants SCOPE.const_N.
func isHelperConstant(name string, t *Tensor) bool {
	if t.NumElements() <= 1 {
		return true
	}
	base := name[strings.LastIndexByte(name, '.')+1:]
	return strings.HasPrefix(base, "const_")
}

// maxTensorElements bounds decoded tensors so a corrupt header cannot make
// the reader allocate without limit.
const maxTensorElements = 1 << 34

// DecodeTensor decodes one TensorProto, reading external data from dir
// ("" forbids external data): a single initializer without decoding the
// rest of its model.
func DecodeTensor(tp *onnxpb.TensorProto, dir string) (*Tensor, error) {
	t, err := tensorFromProto(tp, dir)
	if err != nil {
		return nil, &FormatError{Reason: fmt.Sprintf("initializer %s: %v", tp.GetName(), err)}
	}
	return t, nil
}

// tensorFromProto decodes a TensorProto, reading external data from dir.
func tensorFromProto(tp *onnxpb.TensorProto, dir string) (*Tensor, error) {
	t := &Tensor{DType: DType(tp.GetDataType()), Shape: append([]int64{}, tp.Dims...)}
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > maxTensorElements/d) {
			return nil, fmt.Errorf("bad shape %v", t.Shape)
		}
		n *= d
	}
	if t.DType.Size() == 0 {
		return nil, fmt.Errorf("element type %v not supported", t.DType)
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		raw, err := readExternal(tp, dir, n*int64(t.DType.Size()))
		if err != nil {
			return nil, err
		}
		return t, t.setRaw(raw)
	}
	if tp.RawData != nil || n == 0 {
		return t, t.setRaw(tp.RawData)
	}
	var got int
	switch t.DType {
	case Float32:
		t.Float32, got = append([]float32{}, tp.FloatData...), len(tp.FloatData)
	case Float64:
		t.Float64, got = append([]float64{}, tp.DoubleData...), len(tp.DoubleData)
	case Int64:
		t.Int64, got = append([]int64{}, tp.Int64Data...), len(tp.Int64Data)
	case Int32:
		t.Int32, got = append([]int32{}, tp.Int32Data...), len(tp.Int32Data)
	case Float16:
		t.Float16 = make([]uint16, len(tp.Int32Data))
		for i, v := range tp.Int32Data {
			t.Float16[i] = uint16(v)
		}
		got = len(tp.Int32Data)
	case Bool:
		t.Bool = make([]bool, len(tp.Int32Data))
		for i, v := range tp.Int32Data {
			t.Bool[i] = v != 0
		}
		got = len(tp.Int32Data)
	default:
		return nil, fmt.Errorf("typed data of %v not supported", t.DType)
	}
	if int64(got) != n {
		return nil, fmt.Errorf("shape %v needs %d elements, data has %d", t.Shape, n, got)
	}
	return t, nil
}

func readExternal(tp *onnxpb.TensorProto, dir string, want int64) ([]byte, error) {
	var loc string
	var off, length int64 = 0, -1
	for _, kv := range tp.ExternalData {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			off, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s: %v", kv.GetKey(), err)
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("external data %q but no folder to read it from", loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if loc == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("external data location %q must be a relative path inside the model folder", loc)
	}
	if length < 0 {
		length = want
	}
	if length != want || off < 0 {
		return nil, fmt.Errorf("external data length %d at offset %d, tensor needs %d bytes", length, off, want)
	}
	f, err := os.Open(filepath.Join(dir, clean))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil && !(err == io.EOF && length == 0) {
		return nil, fmt.Errorf("external data %s: %v", loc, err)
	}
	return buf, nil
}
