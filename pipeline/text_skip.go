package pipeline

import (
	"fmt"
	"math"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// layerNorm is a CLIP text model's final layer norm, read from the
// encoder's weights for clip skip on SD 1.x/2.x (the ONNX graph applies it
// to the last layer only).
type layerNorm struct {
	gamma, beta []float32
	eps         float64
}

// finalLayerNorm applies the encoder's final layer norm to each row of
// hidden ([seq, dim]) in place, loading its weights on first use.
func (te *textEncoder) finalLayerNorm(hidden []float32, dim int) error {
	if te.finalLN == nil {
		ln, err := readFinalLayerNorm(te.sess.Name())
		if err != nil {
			return fmt.Errorf("pipeline: %s: clip skip: %w", te.name, err)
		}
		te.finalLN = ln
	}
	ln := te.finalLN
	if len(ln.gamma) != dim {
		return fmt.Errorf("pipeline: %s: clip skip: final layer norm has %d weights for hidden size %d", te.name, len(ln.gamma), dim)
	}
	for r := 0; r+dim <= len(hidden); r += dim {
		row := hidden[r : r+dim]
		var mean, vari float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(dim)
		for _, v := range row {
			vari += (float64(v) - mean) * (float64(v) - mean)
		}
		inv := 1 / math.Sqrt(vari/float64(dim)+ln.eps)
		for i, v := range row {
			row[i] = float32((float64(v)-mean)*inv)*ln.gamma[i] + ln.beta[i]
		}
	}
	return nil
}

// readFinalLayerNorm reads the weight and bias of the text encoder's
// final layer norm (the LayerNormalization node named after
// final_layer_norm, as PyTorch's exporter names it) from the model at
// path, following Identity nodes (the exporter shares equal
// initializers). It decodes the whole model once; SD 1.5's encoder is
// 0.5 GB of float32.
func readFinalLayerNorm(path string) (*layerNorm, error) {
	m, err := onnxexport.ReadModel(path)
	if err != nil {
		return nil, err
	}
	producer := map[string]*onnxpb.NodeProto{}
	var node *onnxpb.NodeProto
	for _, n := range m.Proto.Graph.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
		if n.GetOpType() == "LayerNormalization" && strings.Contains(n.GetName(), "final_layer_norm") && len(n.Input) == 3 {
			node = n
		}
	}
	if node == nil {
		return nil, fmt.Errorf("%s has no final_layer_norm LayerNormalization node", path)
	}
	weight := func(name string) ([]float32, error) {
		for range 16 {
			if t, ok := m.Initializers[name]; ok {
				return t.AsFloat32()
			}
			n := producer[name]
			if n == nil || n.GetOpType() != "Identity" {
				break
			}
			name = n.Input[0]
		}
		return nil, fmt.Errorf("%s: final layer norm input %s is not a weight", path, name)
	}
	ln := &layerNorm{eps: 1e-5}
	if ln.gamma, err = weight(node.Input[1]); err != nil {
		return nil, err
	}
	if ln.beta, err = weight(node.Input[2]); err != nil {
		return nil, err
	}
	if len(ln.beta) != len(ln.gamma) {
		return nil, fmt.Errorf("%s: final layer norm weight and bias differ in size", path)
	}
	for _, a := range node.Attribute {
		if a.GetName() == "epsilon" {
			ln.eps = float64(a.GetF())
		}
	}
	return ln, nil
}
