package graphopt

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// Defaults of NBitsOptions.
const (
	// DefaultBlockSize is the block size QuantizeMatMul uses when none is
	// given: 4-bit blocks of 32 kept the output closest to float32
	// (BenchmarkMatMulNBits; the SD 1.5 figures are in the README).
	DefaultBlockSize = 32
	// DefaultMinWeights is the smallest weight QuantizeMatMul quantizes:
	// at 64x64 and below MatMulNBits ran slower than a float32 MatMul
	// (BenchmarkMatMulNBits, small shapes) and saves under 16 KiB a
	// weight. Every Linear of SD 1.5's UNet and CLIP is far larger.
	DefaultMinWeights = 128 * 128
)

// NBitsOptions configure QuantizeMatMul.
type NBitsOptions struct {
	Bits      int // 4 or 8
	BlockSize int // power of two, at least 16; 0 means DefaultBlockSize
	// MinWeights is the number of elements below which a weight stays
	// float; 0 means DefaultMinWeights, a negative value quantizes all.
	MinWeights int64
	// AccuracyLevel is MatMulNBits' accuracy_level (the lowest precision
	// ONNX Runtime may compute in: 0 unset, 1 float32, 2 float16, 3
	// bfloat16, 4 int8); 0 leaves the attribute out.
	AccuracyLevel int
	// Dir is the folder the model's external data is relative to.
	Dir string
}

// WithDefaults returns o with zero fields set to their defaults.
func (o NBitsOptions) WithDefaults() NBitsOptions {
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.MinWeights == 0 {
		o.MinWeights = DefaultMinWeights
	}
	return o
}

// Validate reports options MatMulNBits cannot take (after WithDefaults).
func (o NBitsOptions) Validate() error {
	if err := checkNBits(o.Bits, o.BlockSize); err != nil {
		return err
	}
	if o.AccuracyLevel < 0 || o.AccuracyLevel > 4 {
		return fmt.Errorf("graphopt: accuracy level %d: want 0 to 4", o.AccuracyLevel)
	}
	return nil
}

// NBitsReport says what QuantizeMatMul did.
type NBitsReport struct {
	Quantized   int   // MatMul and Gemm nodes now MatMulNBits
	Kept        int   // nodes with a constant weight left in float (under MinWeights)
	FloatBytes  int64 // bytes of the float weights replaced
	PackedBytes int64 // bytes of the codes, scales and zero points replacing them
}

// QuantizeMatMul replaces every MatMul (and Gemm without transA, alpha
// and beta 1) whose weight B is a constant 2-D float matrix by ONNX
// Runtime's com.microsoft.MatMulNBits: the weight stored in Bits-bit
// codes with a float scale and a zero point per block of BlockSize along
// K. The weight may reach the MatMul through a Cast (float16 weights of a
// float32 graph) and a Transpose (a [out, in] Linear weight), as
// imagegen's exports write it. Weights other nodes also read stay in the
// graph. It changes m in place; new initializers hold their data inline,
// the others are left as they were (including external data references).
func QuantizeMatMul(m *onnxpb.ModelProto, opt NBitsOptions) (NBitsReport, error) {
	var rep NBitsReport
	g := m.GetGraph()
	if g == nil {
		return rep, ErrNoGraph
	}
	opt = opt.WithDefaults()
	if err := opt.Validate(); err != nil {
		return rep, err
	}
	gi := index(g)
	real := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		real[t.GetName()] = t
	}
	done := map[string][]string{} // weight key -> names of B, scales, zero points
	var out []*onnxpb.NodeProto
	for _, n := range g.Node {
		w, ok := gi.matmulWeight(n, real)
		if !ok {
			out = append(out, n)
			continue
		}
		if w.n*w.k < opt.MinWeights {
			rep.Kept++
			out = append(out, n)
			continue
		}
		key := fmt.Sprintf("%s/%v/%v", w.init.GetName(), w.transposed, w.dtype)
		names, seen := done[key]
		if !seen {
			q, err := w.quantize(opt)
			if err != nil {
				return rep, err
			}
			base := w.init.GetName() + fmt.Sprintf("_Q%dG%d", opt.Bits, opt.BlockSize)
			if w.transposed {
				base += "_T"
			}
			names = []string{base, base + "_scales", base + "_zero_points"}
			g.Initializer = append(g.Initializer, q.protos(names, w.dtype)...)
			done[key] = names
			rep.FloatBytes += w.n * w.k * int64(onnxexport.DType(w.init.GetDataType()).Size())
			rep.PackedBytes += int64(len(q.packed) + len(q.zeroPoints) + len(q.scales)*w.dtype.Size())
		}
		out = append(out, w.nodes(n, names, opt)...)
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
	addMSOpset(m)
	return rep, nil
}

// matmulWeight is the constant weight of a MatMul or Gemm node.
type matmulWeight struct {
	init       *onnxpb.TensorProto
	transposed bool  // init holds B transposed: [N, K]
	n, k       int64 // B is [K, N]
	dtype      onnxexport.DType
	bias       string // Gemm's C, added after
}

// matmulWeight finds n's constant weight, through at most one Cast to a
// float type and one [1, 0] Transpose, in either order.
func (gi *graphIndex) matmulWeight(n *onnxpb.NodeProto, inits map[string]*onnxpb.TensorProto) (*matmulWeight, bool) {
	if n.GetDomain() != "" || len(n.Input) < 2 || len(n.Output) != 1 {
		return nil, false
	}
	w := &matmulWeight{}
	switch n.GetOpType() {
	case "MatMul":
	case "Gemm":
		if v, ok := floatAttr(n, "alpha"); ok && v != 1 {
			return nil, false
		}
		if v, ok := intAttr(n, "transA"); ok && v != 0 {
			return nil, false
		}
		if tb, _ := intAttr(n, "transB"); tb != 0 {
			w.transposed = true
		}
		if len(n.Input) > 2 && n.Input[2] != "" {
			if v, ok := floatAttr(n, "beta"); ok && v != 1 {
				return nil, false
			}
			w.bias = n.Input[2]
		}
	default:
		return nil, false
	}
	name := n.Input[1]
	var casts, transposes int
	for {
		if t, ok := inits[name]; ok {
			w.init = t
			break
		}
		p := gi.producer[name]
		if p == nil || p.GetDomain() != "" || len(p.Input) != 1 {
			return nil, false
		}
		switch {
		case p.GetOpType() == "Transpose" && transposes == 0 && (permIs(p, []int64{1, 0}) || !hasAttr(p, "perm")):
			transposes++
			w.transposed = !w.transposed
		case p.GetOpType() == "Cast" && casts == 0:
			to, _ := intAttr(p, "to")
			dt := onnxexport.DType(to)
			if dt != onnxexport.Float32 && dt != onnxexport.Float16 {
				return nil, false
			}
			casts++
			if w.dtype == 0 {
				w.dtype = dt // the Cast nearest the MatMul sets the compute type
			}
		default:
			return nil, false
		}
		name = p.Input[0]
	}
	if len(w.init.Dims) != 2 {
		return nil, false
	}
	dt := onnxexport.DType(w.init.GetDataType())
	if dt != onnxexport.Float32 && dt != onnxexport.Float16 {
		return nil, false
	}
	if w.dtype == 0 {
		w.dtype = dt
	}
	w.k, w.n = w.init.Dims[0], w.init.Dims[1]
	if w.transposed {
		w.k, w.n = w.n, w.k
	}
	return w, w.k > 0 && w.n > 0
}

// quantize reads the weight, as a row-major [N, K] matrix, and quantizes it.
func (w *matmulWeight) quantize(opt NBitsOptions) (*nbitsWeight, error) {
	vals, err := decodeFloat32(w.init, opt.Dir)
	if err != nil {
		return nil, err
	}
	n, k := int(w.n), int(w.k)
	rows := vals
	if !w.transposed { // stored [K, N]
		rows = make([]float32, len(vals))
		for i := 0; i < k; i++ {
			for j := 0; j < n; j++ {
				rows[j*k+i] = vals[i*n+j]
			}
		}
	}
	var round func(float32) float32
	if w.dtype == onnxexport.Float16 {
		round = func(v float32) float32 { return onnxexport.Float16ToFloat32(onnxexport.Float32ToFloat16(v)) }
	}
	return quantizeNBits(rows, n, k, opt.Bits, opt.BlockSize, round), nil
}

// nodes returns the MatMulNBits node replacing mm (and the Add of a
// Gemm's bias).
func (w *matmulWeight) nodes(mm *onnxpb.NodeProto, names []string, opt NBitsOptions) []*onnxpb.NodeProto {
	out := mm.Output[0]
	if w.bias != "" {
		out += "/matmul_nbits"
	}
	attrs := []*onnxpb.AttributeProto{
		intAttrProto("K", w.k), intAttrProto("N", w.n),
		intAttrProto("bits", int64(opt.Bits)), intAttrProto("block_size", int64(opt.BlockSize)),
	}
	if opt.AccuracyLevel != 0 {
		attrs = append(attrs, intAttrProto("accuracy_level", int64(opt.AccuracyLevel)))
	}
	nodes := []*onnxpb.NodeProto{{
		OpType: proto.String("MatMulNBits"), Domain: proto.String(msDomain),
		Name:  proto.String(mm.GetName() + "/MatMulNBits"),
		Input: []string{mm.Input[0], names[0], names[1], names[2]}, Output: []string{out},
		Attribute: attrs,
	}}
	if w.bias != "" {
		nodes = append(nodes, &onnxpb.NodeProto{
			OpType: proto.String("Add"), Name: proto.String(mm.GetName() + "/bias"),
			Input: []string{out, w.bias}, Output: []string{mm.Output[0]},
		})
	}
	return nodes
}

// protos returns q's initializers named names (codes, scales, zero
// points), the scales in dtype.
func (q *nbitsWeight) protos(names []string, dtype onnxexport.DType) []*onnxpb.TensorProto {
	nb := int64(q.blocks())
	var scales []byte
	if dtype == onnxexport.Float16 {
		h := make([]uint16, len(q.scales))
		for i, v := range q.scales {
			h[i] = onnxexport.Float32ToFloat16(v)
		}
		scales = onnxexport.EncodeTensor("", &onnxexport.Tensor{DType: dtype, Shape: []int64{int64(len(h))}, Float16: h}).RawData
	} else {
		scales = onnxexport.EncodeTensor("", onnxexport.NewFloat32([]int64{int64(len(q.scales))}, q.scales)).RawData
	}
	u8 := int32(onnxpb.TensorProto_UINT8)
	return []*onnxpb.TensorProto{
		{Name: proto.String(names[0]), DataType: &u8, Dims: []int64{int64(q.n), nb, int64(q.blockSize * q.bits / 8)}, RawData: q.packed},
		{Name: proto.String(names[1]), DataType: proto.Int32(int32(dtype)), Dims: []int64{int64(q.n) * nb}, RawData: scales},
		{Name: proto.String(names[2]), DataType: &u8, Dims: []int64{int64(len(q.zeroPoints))}, RawData: q.zeroPoints},
	}
}

// removeUnusedInitializers drops initializers no node reads and no graph
// output names, with the graph inputs that declare them.
func removeUnusedInitializers(g *onnxpb.GraphProto) {
	used := map[string]bool{}
	for _, o := range g.Output {
		used[o.GetName()] = true
	}
	for _, n := range g.Node {
		for _, in := range n.Input {
			used[in] = true
		}
		markSubgraphInputs(n, used)
	}
	removed := map[string]bool{}
	kept := g.Initializer[:0]
	for _, t := range g.Initializer {
		if used[t.GetName()] {
			kept = append(kept, t)
		} else {
			removed[t.GetName()] = true
		}
	}
	g.Initializer = kept
	inputs := g.Input[:0]
	for _, vi := range g.Input {
		if !removed[vi.GetName()] {
			inputs = append(inputs, vi)
		}
	}
	g.Input = inputs
}

// addMSOpset imports the com.microsoft domain if m does not yet.
func addMSOpset(m *onnxpb.ModelProto) {
	for _, o := range m.OpsetImport {
		if o.GetDomain() == msDomain {
			return
		}
	}
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(msDomain), Version: proto.Int64(1)})
}

func intAttrProto(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func floatAttr(n *onnxpb.NodeProto, name string) (float32, bool) {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetF(), true
		}
	}
	return 0, false
}

func hasAttr(n *onnxpb.NodeProto, name string) bool {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return true
		}
	}
	return false
}
