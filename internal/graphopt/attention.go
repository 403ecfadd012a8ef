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
	addMSOpset(m)
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

// soleBesideShapes is sole, not counting Shape nodes (torch reads the
// head size for its scale from the query's shape).
func (gi *graphIndex) soleBesideShapes(name string) bool {
	n := 0
	for _, c := range gi.consumers[name] {
		if c.GetOpType() != "Shape" || c.GetDomain() != "" {
			n++
		}
	}
	return n == 1 && !gi.outputs[name]
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
	var sc scaling
	scores, ok := gi.stripScale(sm.Input[0], &sc)
	if !ok {
		return nil, false
	}
	qk := gi.op(scores, "MatMul")
	pv := gi.consumers[sm.Output[0]][0]
	if qk == nil || pv.GetOpType() != "MatMul" || pv.GetDomain() != "" || pv.Input[0] != sm.Output[0] {
		return nil, false
	}
	qIn, ok := gi.stripScale(qk.Input[0], &sc)
	if !ok {
		return nil, false
	}
	kIn, ok := gi.stripScale(qk.Input[1], &sc)
	if !ok {
		return nil, false
	}
	q, hq, dq, ok := gi.heads(qIn, []int64{0, 2, 1, 3})
	if !ok {
		return nil, false
	}
	k, hk, dk, ok := gi.keyHeads(kIn)
	if !ok {
		return nil, false
	}
	v, hv, dv, ok := gi.heads(pv.Input[1], []int64{0, 2, 1, 3})
	if !ok || hq != hk || hk != hv || (dq > 0 && dk > 0 && dq != dk) {
		return nil, false
	}
	// MultiHeadAttention's scale attribute: 0 means its default,
	// 1/sqrt(head size).
	var scale float32
	switch {
	case len(sc.dynamic) == 0:
		scale = float32(sc.factor)
	case sc.power == -0.5 && allEqual(sc.dynamic, qIn) && sc.factor == 1:
		// torch's decomposition of scaled_dot_product_attention: both q
		// and kᵀ scaled by sqrt(1/sqrt(d)), d read from q's shape.
	case sc.power == -0.5 && allEqual(sc.dynamic, qIn) && dq > 0:
		scale = float32(sc.factor / math.Sqrt(float64(dq)))
	default:
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
	shape, ok := gi.shapeDims(rs.Input[1])
	if !ok || len(shape) != 3 {
		return nil, false
	}
	switch width, seq := shape[2], shape[1]; {
	case width.known && dv > 0 && width.v == hv*dv:
	case width.known && width.v == -1 && seq.known && seq.v > 0:
	case !width.known && seq.known && (seq.v == -1 || seq.v == 0) && gi.isHeadsTimesDim(width.src, hv):
	default:
		return nil, false
	}
	out := rs.Output[0]
	// The old Reshape now produces nothing anyone reads; rename its output
	// so the dead-node sweep drops the whole decomposed chain.
	rs.Output[0] = out + "/unfused"
	name := fmt.Sprintf("imagegen_fused_attention_%d", id)
	attrs := []*onnxpb.AttributeProto{{Name: proto.String("num_heads"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(hq)}}
	if scale != 0 {
		attrs = append(attrs, &onnxpb.AttributeProto{Name: proto.String("scale"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(scale)})
	}
	return &onnxpb.NodeProto{
		Name: proto.String(name), OpType: proto.String("MultiHeadAttention"), Domain: proto.String(msDomain),
		Input: []string{q, k, v}, Output: []string{out}, Attribute: attrs,
	}, true
}

func allEqual(names []string, want string) bool {
	for _, n := range names {
		if n != want {
			return false
		}
	}
	return true
}

// scaling is what stripScale collected: a constant factor times
// d^power, where d is the last dimension of each value in dynamic (the
// scales torch computes from shapes at run time).
type scaling struct {
	factor  float64
	power   float64
	dynamic []string
}

// stripScale walks back from name through Mul or Div by a constant scalar,
// or Mul by a scale computed from a shape, folds the factors into sc and
// returns the unscaled value.
func (gi *graphIndex) stripScale(name string, sc *scaling) (string, bool) {
	if sc.factor == 0 {
		sc.factor = 1
	}
	for {
		n := gi.producer[name]
		if n == nil || n.GetDomain() != "" || (n.GetOpType() != "Mul" && n.GetOpType() != "Div") || len(n.Input) != 2 || !gi.sole(n.Output[0]) {
			return name, true
		}
		c, x := 1, 0
		f, ok := gi.scalar(n.Input[c])
		if !ok && n.GetOpType() == "Mul" {
			c, x = 0, 1
			f, ok = gi.scalar(n.Input[c])
		}
		if ok && f != 0 {
			if n.GetOpType() == "Div" {
				f = 1 / f
			}
			sc.factor *= f
			name = n.Input[x]
			continue
		}
		if n.GetOpType() != "Mul" {
			return name, true
		}
		for c, x = 1, 0; c >= 0; c, x = c-1, x+1 {
			if src, p, ok := gi.shapePower(n.Input[c]); ok {
				sc.power += p
				sc.dynamic = append(sc.dynamic, src)
				name = n.Input[x]
				break
			}
		}
		if c < 0 {
			return name, true
		}
	}
}

// shapePower matches a scalar computed from the last dimension d of a
// tensor src as d^p, through Sqrt, Cast, Reciprocal and 1/x: torch's
// scaled_dot_product_attention writes sqrt(1/sqrt(d)).
func (gi *graphIndex) shapePower(name string) (src string, p float64, ok bool) {
	n := gi.producer[name]
	if n == nil || n.GetDomain() != "" || len(n.Input) == 0 {
		return "", 0, false
	}
	switch n.GetOpType() {
	case "Cast":
		return gi.shapePower(n.Input[0])
	case "Sqrt":
		src, p, ok := gi.shapePower(n.Input[0])
		return src, p / 2, ok
	case "Reciprocal":
		src, p, ok := gi.shapePower(n.Input[0])
		return src, -p, ok
	case "Div":
		if one, isConst := gi.scalar(n.Input[0]); !isConst || one != 1 || len(n.Input) != 2 {
			return "", 0, false
		}
		src, p, ok := gi.shapePower(n.Input[1])
		return src, -p, ok
	case "Slice":
		// Slice(Shape(src), [-1], [big]): the last dimension.
		shape := gi.op(n.Input[0], "Shape")
		if shape == nil || len(shape.Input) != 1 || len(shape.Attribute) != 0 || len(n.Input) < 3 || len(n.Input) > 4 {
			return "", 0, false
		}
		starts, ok1 := gi.ints(n.Input[1])
		ends, ok2 := gi.ints(n.Input[2])
		if !ok1 || !ok2 || len(starts) != 1 || starts[0] != -1 || len(ends) != 1 || ends[0] < 1<<30 {
			return "", 0, false
		}
		if len(n.Input) == 4 {
			if axes, ok := gi.ints(n.Input[3]); !ok || len(axes) != 1 || axes[0] != 0 {
				return "", 0, false
			}
		}
		return shape.Input[0], 1, true
	}
	return "", 0, false
}

// heads matches Transpose(perm) of Reshape(x, [0|B, 0|S|-1, h, d]) and
// returns x with h and d.
func (gi *graphIndex) heads(name string, perm []int64) (string, int64, int64, bool) {
	tr := gi.op(name, "Transpose")
	if tr == nil || !permIs(tr, perm) || !gi.soleBesideShapes(name) {
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

// split matches Reshape(x, [*, *, h, d]) with a constant h and a
// constant d, or a d computed at run time as (hidden size)/h; it returns
// d = 0 for the latter.
func (gi *graphIndex) split(name string) (string, int64, int64, bool) {
	rs := gi.op(name, "Reshape")
	if rs == nil || len(rs.Input) < 2 || !gi.sole(name) {
		return "", 0, 0, false
	}
	shape, ok := gi.shapeDims(rs.Input[1])
	if !ok || len(shape) != 4 || !shape[2].known || shape[2].v <= 0 {
		return "", 0, 0, false
	}
	h, d := shape[2].v, shape[3]
	switch {
	case d.known && d.v > 0:
		return rs.Input[0], h, d.v, true
	case !d.known && gi.isHeadDim(d.src, h):
		return rs.Input[0], h, 0, true
	}
	return "", 0, 0, false
}

// dim is one element of a shape tensor: a constant, or the value src
// that computes it at run time.
type dim struct {
	v     int64
	known bool
	src   string
}

// shapeDims returns the elements of a shape tensor that is a constant or
// a Concat (along axis 0) of one-element pieces, as torch writes the
// shapes of Reshape nodes.
func (gi *graphIndex) shapeDims(name string) ([]dim, bool) {
	if v, ok := gi.ints(name); ok {
		out := make([]dim, len(v))
		for i, x := range v {
			out[i] = dim{v: x, known: true}
		}
		return out, true
	}
	cat := gi.op(name, "Concat")
	if cat == nil {
		return nil, false
	}
	if axis, _ := intAttr(cat, "axis"); axis != 0 {
		return nil, false
	}
	out := make([]dim, len(cat.Input))
	for i, in := range cat.Input {
		if v, ok := gi.ints(in); ok {
			if len(v) != 1 {
				return nil, false
			}
			out[i] = dim{v: v[0], known: true}
			continue
		}
		out[i] = dim{src: in}
	}
	return out, true
}

// passThrough walks back from name through Cast and Unsqueeze, which
// leave a one-element value as it is.
func (gi *graphIndex) passThrough(name string) string {
	for {
		n := gi.producer[name]
		if n == nil || n.GetDomain() != "" || len(n.Input) == 0 || (n.GetOpType() != "Cast" && n.GetOpType() != "Unsqueeze") {
			return name
		}
		name = n.Input[0]
	}
}

// isHeadDim reports whether name computes (a dimension read from a
// shape) / h, the head size diffusers derives from the projection width.
func (gi *graphIndex) isHeadDim(name string, h int64) bool {
	div := gi.op(gi.passThrough(name), "Div")
	if div == nil || len(div.Input) != 2 {
		return false
	}
	if c, ok := gi.ints(div.Input[1]); !ok || len(c) != 1 || c[0] != h {
		return false
	}
	g := gi.op(gi.passThrough(div.Input[0]), "Gather")
	return g != nil && len(g.Input) == 2 && gi.op(g.Input[0], "Shape") != nil
}

// isHeadsTimesDim reports whether name computes h times a head size that
// isHeadDim accepts: the width of the merged heads.
func (gi *graphIndex) isHeadsTimesDim(name string, h int64) bool {
	mul := gi.op(gi.passThrough(name), "Mul")
	if mul == nil || len(mul.Input) != 2 {
		return false
	}
	for c, x := 0, 1; c < 2; c, x = c+1, x-1 {
		if v, ok := gi.ints(mul.Input[c]); ok && len(v) == 1 && v[0] == h && gi.isHeadDim(mul.Input[x], h) {
			return true
		}
	}
	return false
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
