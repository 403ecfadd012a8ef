package graphopt

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// msDomain is ONNX Runtime's contrib operator domain.
const msDomain = "com.microsoft"

// ErrNoGraph is returned by FuseAttention for a model without a graph.
var ErrNoGraph = errors.New("graphopt: model has no graph")

// FuseAttention replaces every decomposed multi-head attention in m's main
// graph by a com.microsoft.MultiHeadAttention node and returns how many it
// replaced. A pattern that does not match exactly (a mask, dynamic head
// count, a transpose it does not expect) is left alone, so the result
// always computes what m did.
func FuseAttention(m *onnxpb.ModelProto) (int, error) {
	g := m.GetGraph()
	if g == nil {
		return 0, ErrNoGraph
	}
	gr := index(g)
	fused := 0
	var keep []*onnxpb.NodeProto
	for _, n := range g.Node {
		keep = append(keep, n)
		if n.GetOpType() != "Softmax" || n.GetDomain() != "" {
			continue
		}
		mha, ok := gr.matchAttention(n, fused)
		if !ok {
			continue
		}
		keep = append(keep, mha)
		fused++
	}
	if fused == 0 {
		return 0, nil
	}
	// The MHA node was appended right after its Softmax; it must come after
	// the Reshape producing its last input, so re-sort topologically.
	g.Node = keep
	if err := removeDead(g); err != nil {
		return 0, err
	}
	if err := sortTopological(g); err != nil {
		return 0, err
	}
	hasMS := false
	for _, o := range m.OpsetImport {
		if o.GetDomain() == msDomain {
			hasMS = true
		}
	}
	if !hasMS {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(msDomain), Version: proto.Int64(1)})
	}
	return fused, nil
}

// graphIndex maps value names to their producer, consumers and constant
// data.
type graphIndex struct {
	producer  map[string]*onnxpb.NodeProto
	consumers map[string][]*onnxpb.NodeProto
	inits     map[string]*onnxpb.TensorProto
	outputs   map[string]bool
}

func index(g *onnxpb.GraphProto) *graphIndex {
	gi := &graphIndex{
		producer:  map[string]*onnxpb.NodeProto{},
		consumers: map[string][]*onnxpb.NodeProto{},
		inits:     map[string]*onnxpb.TensorProto{},
		outputs:   map[string]bool{},
	}
	for _, t := range g.Initializer {
		gi.inits[t.GetName()] = t
	}
	for _, o := range g.Output {
		gi.outputs[o.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			gi.producer[o] = n
		}
		for _, in := range n.Input {
			gi.consumers[in] = append(gi.consumers[in], n)
		}
		if n.GetOpType() == "Constant" && n.GetDomain() == "" {
			for _, a := range n.Attribute {
				if a.GetName() == "value" && a.T != nil && len(n.Output) == 1 {
					gi.inits[n.Output[0]] = a.T
				}
			}
		}
	}
	return gi
}

// op returns the producer of name when it is the standard operator typ.
func (gi *graphIndex) op(name, typ string) *onnxpb.NodeProto {
	n := gi.producer[name]
	if n == nil || n.GetOpType() != typ || n.GetDomain() != "" {
		return nil
	}
	return n
}

// sole reports whether name feeds exactly one node and no graph output.
func (gi *graphIndex) sole(name string) bool {
	return len(gi.consumers[name]) == 1 && !gi.outputs[name]
}

// matchAttention matches softmax(scale·Q·Kᵀ)·V around the Softmax sm,
// with Q, K and V split into heads from [B, S, heads·d] tensors, and
// returns the MultiHeadAttention node that replaces it.
func (gi *graphIndex) matchAttention(sm *onnxpb.NodeProto, id int) (*onnxpb.NodeProto, bool) {
	if axis, ok := intAttr(sm, "axis"); ok && axis != -1 && axis != 3 {
		return nil, false
	}
	if len(sm.Input) != 1 || len(sm.Output) != 1 || !gi.sole(sm.Output[0]) {
		return nil, false
	}
	scale := 1.0
	scores, s, ok := gi.stripScale(sm.Input[0])
	if !ok {
		return nil, false
	}
	scale *= s
	qk := gi.op(scores, "MatMul")
	pv := gi.consumers[sm.Output[0]][0]
	if qk == nil || pv.GetOpType() != "MatMul" || pv.GetDomain() != "" || pv.Input[0] != sm.Output[0] {
		return nil, false
	}
	qIn, s, ok := gi.stripScale(qk.Input[0])
	if !ok {
		return nil, false
	}
	scale *= s
	kIn, s, ok := gi.stripScale(qk.Input[1])
	if !ok {
		return nil, false
	}
	scale *= s
	q, hq, dq, ok := gi.heads(qIn, []int64{0, 2, 1, 3})
	if !ok {
		return nil, false
	}
	k, hk, dk, ok := gi.keyHeads(kIn)
	if !ok {
		return nil, false
	}
	v, hv, dv, ok := gi.heads(pv.Input[1], []int64{0, 2, 1, 3})
	if !ok || hq != hk || hk != hv || dq != dk {
		return nil, false
	}
	// Merge: Transpose(0,2,1,3) then Reshape to [B, S, heads·dv].
	if !gi.sole(pv.Output[0]) {
		return nil, false
	}
	tr := gi.consumers[pv.Output[0]][0]
	if tr.GetOpType() != "Transpose" || !permIs(tr, []int64{0, 2, 1, 3}) || !gi.sole(tr.Output[0]) {
		return nil, false
	}
	rs := gi.consumers[tr.Output[0]][0]
	if rs.GetOpType() != "Reshape" || len(rs.Input) < 2 {
		return nil, false
	}
	shape, ok := gi.ints(rs.Input[1])
	if !ok || len(shape) != 3 || (shape[2] != hv*dv && !(shape[2] == -1 && shape[1] > 0)) {
		return nil, false
	}
	out := rs.Output[0]
	// The old Reshape now produces nothing anyone reads; rename its output
	// so the dead-node sweep drops the whole decomposed chain.
	rs.Output[0] = out + "/unfused"
	name := fmt.Sprintf("imagegen_fused_attention_%d", id)
	return &onnxpb.NodeProto{
		Name: proto.String(name), OpType: proto.String("MultiHeadAttention"), Domain: proto.String(msDomain),
		Input: []string{q, k, v}, Output: []string{out},
		Attribute: []*onnxpb.AttributeProto{
			{Name: proto.String("num_heads"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(hq)},
			{Name: proto.String("scale"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(scale))},
		},
	}, true
}

// stripScale walks back from name through Mul or Div by a constant scalar
// and returns the unscaled value and the factor.
func (gi *graphIndex) stripScale(name string) (string, float64, bool) {
	scale := 1.0
	for {
		n := gi.producer[name]
		if n == nil || n.GetDomain() != "" || (n.GetOpType() != "Mul" && n.GetOpType() != "Div") || len(n.Input) != 2 {
			return name, scale, true
		}
		c, x := 1, 0
		f, ok := gi.scalar(n.Input[c])
		if !ok && n.GetOpType() == "Mul" {
			c, x = 0, 1
			f, ok = gi.scalar(n.Input[c])
		}
		if !ok || f == 0 || !gi.sole(n.Output[0]) {
			return name, scale, true
		}
		if n.GetOpType() == "Div" {
			f = 1 / f
		}
		scale *= f
		name = n.Input[x]
	}
}

// heads matches Transpose(perm) of Reshape(x, [0|B, 0|S|-1, h, d]) and
// returns x with h and d.
func (gi *graphIndex) heads(name string, perm []int64) (string, int64, int64, bool) {
	tr := gi.op(name, "Transpose")
	if tr == nil || !permIs(tr, perm) || !gi.sole(name) {
		return "", 0, 0, false
	}
	return gi.split(tr.Input[0])
}

// keyHeads matches the key split straight into [B, h, d, S] (one
// Transpose 0,2,3,1) or into [B, h, S, d] and then transposed (0,1,3,2).
func (gi *graphIndex) keyHeads(name string) (string, int64, int64, bool) {
	tr := gi.op(name, "Transpose")
	if tr == nil || !gi.sole(name) {
		return "", 0, 0, false
	}
	if permIs(tr, []int64{0, 2, 3, 1}) {
		return gi.split(tr.Input[0])
	}
	if permIs(tr, []int64{0, 1, 3, 2}) {
		return gi.heads(tr.Input[0], []int64{0, 2, 1, 3})
	}
	return "", 0, 0, false
}

// split matches Reshape(x, [*, *, h, d]) with constant h and d.
func (gi *graphIndex) split(name string) (string, int64, int64, bool) {
	rs := gi.op(name, "Reshape")
	if rs == nil || len(rs.Input) < 2 || !gi.sole(name) {
		return "", 0, 0, false
	}
	shape, ok := gi.ints(rs.Input[1])
	if !ok || len(shape) != 4 || shape[2] <= 0 || shape[3] <= 0 {
		return "", 0, 0, false
	}
	return rs.Input[0], shape[2], shape[3], true
}

// ints returns a constant int64 tensor's values.
func (gi *graphIndex) ints(name string) ([]int64, bool) {
	t := gi.inits[name]
	if t == nil || t.GetDataType() != int32(onnxpb.TensorProto_INT64) || len(t.ExternalData) > 0 {
		return nil, false
	}
	if len(t.Int64Data) > 0 {
		return t.Int64Data, true
	}
	raw := t.GetRawData()
	if len(raw)%8 != 0 {
		return nil, false
	}
	v := make([]int64, len(raw)/8)
	for i := range v {
		var x uint64
		for b := 7; b >= 0; b-- {
			x = x<<8 | uint64(raw[i*8+b])
		}
		v[i] = int64(x)
	}
	return v, true
}

// scalar returns a constant one-element float tensor's value.
func (gi *graphIndex) scalar(name string) (float64, bool) {
	t := gi.inits[name]
	if t == nil || len(t.ExternalData) > 0 {
		return 0, false
	}
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	if n != 1 {
		return 0, false
	}
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		if len(t.FloatData) == 1 {
			return float64(t.FloatData[0]), true
		}
		if raw := t.GetRawData(); len(raw) == 4 {
			return float64(math.Float32frombits(uint32(raw[0]) | uint32(raw[1])<<8 | uint32(raw[2])<<16 | uint32(raw[3])<<24)), true
		}
	case onnxpb.TensorProto_DOUBLE:
		if len(t.DoubleData) == 1 {
			return t.DoubleData[0], true
		}
	}
	return 0, false
}

func permIs(n *onnxpb.NodeProto, want []int64) bool {
	for _, a := range n.Attribute {
		if a.GetName() == "perm" {
			if len(a.Ints) != len(want) {
				return false
			}
			for i := range want {
				if a.Ints[i] != want[i] {
					return false
				}
			}
			return true
		}
	}
	return false
}

func intAttr(n *onnxpb.NodeProto, name string) (int64, bool) {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetI(), true
		}
	}
	return 0, false
}
