package onnxexport

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// ProducerName is written into every model built here.
const ProducerName = "imagegen"

// BuildOption changes how Build encodes the graph.
type BuildOption func(*buildConfig)

type buildConfig struct {
	float16Weights bool
}

// WithFloat16Weights stores float32 parameters as float16 initializers
// followed by a Cast to float32, halving the file size while the graph
// still computes in float32.
func WithFloat16Weights() BuildOption { return func(c *buildConfig) { c.float16Weights = true } }

// Build returns the model as an ONNX protobuf, or the sticky error. It may
// be called more than once; each call encodes the current state.
func (b *Builder) Build(opts ...BuildOption) (*onnxpb.ModelProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	var cfg buildConfig
	for _, o := range opts {
		o(&cfg)
	}
	if len(b.outputs) == 0 {
		return nil, fmt.Errorf("onnxexport: build %s: %w: graph has no outputs", b.name, ErrArgument)
	}
	g := &onnxpb.GraphProto{Name: &b.name}
	if b.doc != "" {
		g.DocString = &b.doc
	}
	rename := map[string]string{}
	for _, in := range b.inits {
		t := in.Tensor
		if cfg.float16Weights && in.Trainable && t.DType == Float32 {
			half := in.Name + Float16WeightSuffix
			g.Initializer = append(g.Initializer, t.toFloat16().toProto(half))
			rename[in.Name] = in.Name + "::float32"
			to := int64(Float32)
			g.Node = append(g.Node, &onnxpb.NodeProto{
				OpType: proto.String("Cast"), Name: proto.String("/cast_weights/" + in.Name),
				Input: []string{half}, Output: []string{rename[in.Name]},
				Attribute: []*onnxpb.AttributeProto{{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: &to}},
			})
			continue
		}
		g.Initializer = append(g.Initializer, t.toProto(in.Name))
	}
	valueName := func(v *Value) string {
		if v == nil {
			return ""
		}
		if r, ok := rename[v.name]; ok {
			return r
		}
		return v.name
	}
	for _, n := range b.nodes {
		np := &onnxpb.NodeProto{OpType: proto.String(n.Op), Name: proto.String(n.Name)}
		if n.Domain != "" {
			np.Domain = proto.String(n.Domain)
		}
		for _, v := range n.Inputs {
			np.Input = append(np.Input, valueName(v))
		}
		for _, v := range n.Outputs {
			np.Output = append(np.Output, v.name)
		}
		for i := range n.Attrs {
			np.Attribute = append(np.Attribute, n.Attrs[i].toProto())
		}
		g.Node = append(g.Node, np)
	}
	for _, v := range b.inputs {
		g.Input = append(g.Input, valueInfo(v))
	}
	for _, v := range b.outputs {
		g.Output = append(g.Output, valueInfo(v))
	}
	m := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(IRVersion),
		ProducerName: proto.String(ProducerName),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		Graph:        g,
	}
	for _, kv := range b.meta {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
	}
	return m, nil
}

// valueInfo describes v for the graph's input/output list. Dynamic
// dimensions without a name get one derived from the value's name, so
// runtimes report them readably.
func valueInfo(v *Value) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(v.dtype))}
	if v.shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for i, d := range v.shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d.Known():
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case d.Param != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
			default:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: v.name + "_dim_" + strconv.Itoa(i)}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, dim)
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(v.name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}},
	}
}

// SaveOption changes how Save writes a model.
type SaveOption func(*saveConfig)

type saveConfig struct {
	external  bool
	dataName  string
	threshold int
	progress  func(done, total int64)
}

// WithExternalData forces tensors of at least 1 KiB into a side file even
// when the model is under the 2 GB protobuf limit.
func WithExternalData() SaveOption { return func(c *saveConfig) { c.external = true } }

// WithExternalDataName forces external data, as WithExternalData, into
// the file name (beside the model) instead of path + "_data": public
// exports use model.onnx.data, model.onnx_data or weights.pb.
func WithExternalDataName(name string) SaveOption {
	return func(c *saveConfig) { c.external, c.dataName = true, name }
}

// WithProgress calls fn after each tensor written to the external data file
// with the bytes written so far and the total.
func WithProgress(fn func(done, total int64)) SaveOption {
	return func(c *saveConfig) { c.progress = fn }
}

// externalLimit is the initializer size above which Save moves weights out
// of the protobuf: the format's hard limit is 2 GiB for the whole message.
const externalLimit = 1800 << 20

// Save writes m to path atomically (a temporary file renamed into place).
// Models whose initializers exceed the protobuf size limit (or any model,
// with WithExternalData) keep their large tensors in path + "_data", as
// ONNX external data that ONNX Runtime resolves relative to the model
// file. Save moves those tensors' bytes out of m.
func Save(path string, m *onnxpb.ModelProto, opts ...SaveOption) error {
	cfg := saveConfig{threshold: 1024}
	for _, o := range opts {
		o(&cfg)
	}
	if m.GetGraph() == nil {
		return fmt.Errorf("onnxexport: save %s: model has no graph", path)
	}
	var total int64
	for _, t := range m.Graph.Initializer {
		total += int64(len(t.RawData))
	}
	dir := filepath.Dir(path)
	if cfg.external || total > externalLimit {
		dataName := filepath.Base(path) + "_data"
		if cfg.dataName != "" {
			if cfg.dataName != filepath.Base(cfg.dataName) || cfg.dataName == "." || cfg.dataName == ".." {
				return fmt.Errorf("onnxexport: save %s: external data name %q must be a plain file name", path, cfg.dataName)
			}
			dataName = cfg.dataName
		}
		if err := writeExternal(filepath.Join(dir, dataName), dataName, m, cfg, total); err != nil {
			return fmt.Errorf("onnxexport: save %s: %w", path, err)
		}
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("onnxexport: save %s: encode: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("onnxexport: save %s: %w", path, err)
	}
	return nil
}

// writeExternal streams large raw tensors into file dataPath and points
// their TensorProtos at it.
func writeExternal(dataPath, location string, m *onnxpb.ModelProto, cfg saveConfig, total int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(dataPath), ".tmp-"+filepath.Base(dataPath)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	var off int64
	const align = 4096 // ORT can mmap aligned offsets
	pad := make([]byte, align)
	for _, t := range m.Graph.Initializer {
		if len(t.RawData) < cfg.threshold {
			continue
		}
		if rem := off % align; rem != 0 {
			if _, err := w.Write(pad[:align-rem]); err != nil {
				tmp.Close()
				return err
			}
			off += align - rem
		}
		n := int64(len(t.RawData))
		if _, err := w.Write(t.RawData); err != nil {
			tmp.Close()
			return err
		}
		t.RawData = nil
		t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(location)},
			{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
			{Key: proto.String("length"), Value: proto.String(strconv.FormatInt(n, 10))},
		}
		off += n
		if cfg.progress != nil {
			cfg.progress(off, total)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dataPath)
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
