package graphopt

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// ConvOptions configure QuantizeConv.
type ConvOptions struct {
	// MinWeights is the number of weight elements below which a
	// convolution stays float; 0 means DefaultMinWeights, negative none.
	MinWeights int64
	// Dir is the folder the model's external data is relative to.
	Dir string
}

// ConvReport says what QuantizeConv did.
type ConvReport struct {
	Quantized   int   // Conv nodes now ConvInteger
	Kept        int   // constant-weight Convs left float
	FloatBytes  int64 // bytes of the float weights replaced
	PackedBytes int64 // bytes of the int8 weights and scales replacing them
}

// QuantizeConv replaces every 2-D float32 Conv whose weight (and bias)
// are constants by ONNX Runtime's integer convolution:
// DynamicQuantizeLinear turns the input into uint8 with one scale per
// run, ConvInteger multiplies it with the weight stored in 8 bits
// (symmetric, one scale per output channel, around 128), and the scales
// and bias are applied in float. Unlike QuantizeMatMul this quantizes the
// activations too, which is what makes the int8 kernels fast and what
// costs accuracy. It changes m in place.
func QuantizeConv(m *onnxpb.ModelProto, opt ConvOptions) (ConvReport, error) {
	var rep ConvReport
	g := m.GetGraph()
	if g == nil {
		return rep, ErrNoGraph
	}
	if opt.MinWeights == 0 {
		opt.MinWeights = DefaultMinWeights
	}
	gi := index(g)
	real := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		real[t.GetName()] = t
	}
	quantized := map[string][3]string{} // input name -> xq, scale, zero point
	var out []*onnxpb.NodeProto
	for _, n := range g.Node {
		w, b, ok := gi.convWeights(n, real)
		if !ok {
			out = append(out, n)
			continue
		}
		if numElements(w.Dims) < opt.MinWeights {
			rep.Kept++
			out = append(out, n)
			continue
		}
		name := n.GetName()
		if name == "" {
			name = n.Output[0]
		}
		inits, err := quantizeConvWeights(w, b, name, opt.Dir)
		if err != nil {
			return rep, err
		}
		g.Initializer = append(g.Initializer, inits...)
		rep.FloatBytes += numElements(w.Dims) * 4
		rep.PackedBytes += int64(len(inits[0].RawData) + len(inits[1].RawData))
		x := n.Input[0]
		xq, seen := quantized[x]
		if !seen {
			xq = [3]string{name + "/x_quantized", name + "/x_scale", name + "/x_zero_point"}
			quantized[x] = xq
			out = append(out, &onnxpb.NodeProto{OpType: proto.String("DynamicQuantizeLinear"), Name: proto.String(name + "/quantize_input"),
				Input: []string{x}, Output: xq[:]})
		}
		y := n.Output[0]
		conv := &onnxpb.NodeProto{OpType: proto.String("ConvInteger"), Name: proto.String(name + "/ConvInteger"),
			Input: []string{xq[0], inits[0].GetName(), xq[2], inits[1].GetName()}, Output: []string{y + "/int32"}}
		for _, a := range n.Attribute { // auto_pad, dilations, group, kernel_shape, pads, strides: the same in both
			conv.Attribute = append(conv.Attribute, a)
		}
		out = append(out, conv,
			&onnxpb.NodeProto{OpType: proto.String("Cast"), Name: proto.String(name + "/to_float"), Input: []string{y + "/int32"},
				Output: []string{y + "/float"}, Attribute: []*onnxpb.AttributeProto{intAttrProto("to", int64(onnxexport.Float32))}},
			&onnxpb.NodeProto{OpType: proto.String("Mul"), Name: proto.String(name + "/input_scale"), Input: []string{y + "/float", xq[1]},
				Output: []string{y + "/scaled_input"}})
		if b == nil {
			out = append(out, &onnxpb.NodeProto{OpType: proto.String("Mul"), Name: proto.String(name + "/weight_scale"),
				Input: []string{y + "/scaled_input", inits[2].GetName()}, Output: []string{y}})
		} else {
			out = append(out,
				&onnxpb.NodeProto{OpType: proto.String("Mul"), Name: proto.String(name + "/weight_scale"),
					Input: []string{y + "/scaled_input", inits[2].GetName()}, Output: []string{y + "/scaled"}},
				&onnxpb.NodeProto{OpType: proto.String("Add"), Name: proto.String(name + "/bias"),
					Input: []string{y + "/scaled", inits[3].GetName()}, Output: []string{y}})
		}
		rep.Quantized++
	}
	if rep.Quantized == 0 {
		return rep, nil
	}
	g.Node = out
	if err := removeDead(g); err != nil {
		return rep, err
	}
	removeUnusedInitializers(g)
	return rep, nil
}

// convWeights returns a float32 2-D Conv's constant weight and bias (nil
// when it has none), each an initializer or one Cast of one to float32.
func (gi *graphIndex) convWeights(n *onnxpb.NodeProto, inits map[string]*onnxpb.TensorProto) (w, b *onnxpb.TensorProto, ok bool) {
	if n.GetOpType() != "Conv" || n.GetDomain() != "" || len(n.Input) < 2 || len(n.Output) != 1 {
		return nil, nil, false
	}
	constant := func(name string) *onnxpb.TensorProto {
		if p := gi.op(name, "Cast"); p != nil {
			if to, _ := intAttr(p, "to"); to != int64(onnxexport.Float32) || len(p.Input) != 1 {
				return nil
			}
			name = p.Input[0]
		}
		t := inits[name]
		if t == nil {
			return nil
		}
		if dt := onnxexport.DType(t.GetDataType()); dt != onnxexport.Float32 && dt != onnxexport.Float16 {
			return nil
		}
		return t
	}
	if w = constant(n.Input[1]); w == nil || len(w.Dims) != 4 || w.Dims[0] == 0 {
		return nil, nil, false
	}
	if onnxexport.DType(w.GetDataType()) == onnxexport.Float16 && gi.op(n.Input[1], "Cast") == nil {
		return nil, nil, false // a float16 graph: DynamicQuantizeLinear takes float32 only
	}
	if len(n.Input) > 2 && n.Input[2] != "" {
		if b = constant(n.Input[2]); b == nil || numElements(b.Dims) != w.Dims[0] {
			return nil, nil, false
		}
	}
	return w, b, true
}

// quantizeConvWeights returns the uint8 weight, its zero point (128), the
// per-channel scales as [1, C, 1, 1] and the bias as [1, C, 1, 1] (when
// there is one).
func quantizeConvWeights(wt, bt *onnxpb.TensorProto, name, dir string) ([]*onnxpb.TensorProto, error) {
	w, err := decodeFloat32(wt, dir)
	if err != nil {
		return nil, err
	}
	c := int(wt.Dims[0])
	per := len(w) / c
	q := make([]byte, len(w))
	scales := make([]float32, c)
	for o := 0; o < c; o++ {
		var mx float32
		for _, v := range w[o*per : (o+1)*per] {
			mx = max(mx, float32(math.Abs(float64(v))))
		}
		scales[o] = mx / 127
		if scales[o] == 0 {
			scales[o] = 1
		}
		for i := o * per; i < (o+1)*per; i++ {
			q[i] = byte(128 + min(max(int(math.RoundToEven(float64(w[i]/scales[o]))), -127), 127))
		}
	}
	u8 := int32(onnxpb.TensorProto_UINT8)
	perChannel := []int64{1, int64(c), 1, 1}
	out := []*onnxpb.TensorProto{
		{Name: proto.String(name + "/weight_uint8"), DataType: &u8, Dims: append([]int64{}, wt.Dims...), RawData: q},
		{Name: proto.String(name + "/weight_zero_point"), DataType: &u8, RawData: []byte{128}},
		onnxexport.EncodeTensor(name+"/weight_scale", onnxexport.NewFloat32(perChannel, scales)),
	}
	if bt != nil {
		b, err := decodeFloat32(bt, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, onnxexport.EncodeTensor(name+"/bias_nchw", onnxexport.NewFloat32(perChannel, b)))
	}
	return out, nil
}

func decodeFloat32(tp *onnxpb.TensorProto, dir string) ([]float32, error) {
	t, err := onnxexport.DecodeTensor(tp, dir)
	if err != nil {
		return nil, fmt.Errorf("graphopt: quantize: %w", err)
	}
	v, err := t.AsFloat32()
	if err != nil {
		return nil, fmt.Errorf("graphopt: quantize %s: %w", tp.GetName(), err)
	}
	return v, nil
}

func numElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}
