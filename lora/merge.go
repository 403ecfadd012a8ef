package lora

import (
	"fmt"
	"sort"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// Scaled is an adapter with the strength it is applied at.
type Scaled struct {
	*Adapter
	Scale float64
}

// target is a weight an adapter can change: input Input of Node, whose
// value is initializer Init.
type target struct {
	node  *onnxpb.NodeProto
	input int
	init  *onnxpb.TensorProto
	// outFirst says the weight is stored [out, in, ...] (Conv, Gemm with
	// transB); otherwise it is [in, out] (MatMul: PyTorch's exporter
	// stores Linear weights transposed).
	outFirst bool
}

// Index maps the module paths of a graph's MatMul, Gemm and Conv nodes to
// their weights. Each module is indexed under every suffix of its path
// (down_blocks_0_…_to_q, …, attn1_to_q, to_q), so a LoRA key finds it
// whatever wrapper prefix the export or the LoRA adds; suffixes shared by
// several modules are left out.
type Index struct {
	targets   map[string]*target
	ambiguous map[string]bool
}

// NewIndex indexes the graph of m.
func NewIndex(m *onnxpb.ModelProto) *Index {
	g := m.GetGraph()
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	resolve := func(name string) *onnxpb.TensorProto {
		for range 8 {
			if t, ok := inits[name]; ok {
				return t
			}
			p := producer[name]
			if p == nil || p.GetOpType() != "Identity" || len(p.Input) != 1 {
				return nil
			}
			name = p.Input[0]
		}
		return nil
	}
	idx := &Index{targets: map[string]*target{}, ambiguous: map[string]bool{}}
	for _, n := range g.GetNode() {
		op := n.GetOpType()
		if (op != "MatMul" && op != "Gemm" && op != "Conv") || len(n.Input) < 2 || n.GetDomain() != "" {
			continue
		}
		segs := strings.Split(strings.Trim(n.GetName(), "/"), "/")
		if len(segs) < 2 {
			continue
		}
		w := resolve(n.Input[1])
		if w == nil {
			continue
		}
		t := &target{node: n, input: 1, init: w, outFirst: op == "Conv"}
		if op == "Gemm" {
			for _, a := range n.Attribute {
				if a.GetName() == "transB" && a.GetI() == 1 {
					t.outFirst = true
				}
			}
		}
		segs = segs[:len(segs)-1] // the op's own segment ("MatMul", "Conv")
		for i := range segs {
			key := strings.ReplaceAll(strings.Join(segs[i:], "_"), ".", "_")
			if old, ok := idx.targets[key]; ok && old.node != n {
				idx.ambiguous[key] = true
				continue
			}
			idx.targets[key] = t
		}
	}
	return idx
}

// find returns the target of a LoRA module path: the longest suffix of it,
// at a word boundary, that names one module of the graph.
func (idx *Index) find(module string) *target {
	for k := module; k != ""; {
		if t, ok := idx.targets[k]; ok && !idx.ambiguous[k] {
			return t
		}
		i := strings.IndexByte(k, '_')
		if i < 0 {
			break
		}
		k = k[i+1:]
	}
	return nil
}

// Matches reports whether module names a weight of the graph.
func (idx *Index) Matches(module string) bool { return idx.find(module) != nil }

// Merge adds each adapter's scaled update to the weight its module names in
// m (a component's graph; dir is the folder its external data is read
// from). Merged weights are new initializers the nodes now read; the
// original initializers stay as they were. It returns the keys of the
// adapters that name no weight of m; an adapter whose shapes do not fit its
// weight is an error.
func Merge(m *onnxpb.ModelProto, dir string, adapters []Scaled) (unmatched []string, err error) {
	idx := NewIndex(m)
	type merge struct {
		t      *target
		w      []float32
		dtype  onnxexport.DType
		shape  []int64
		source []string
	}
	merges := map[*onnxpb.NodeProto]*merge{}
	var order []*merge
	for _, a := range adapters {
		t := idx.find(a.Module)
		if t == nil {
			unmatched = append(unmatched, a.Key)
			continue
		}
		if a.Scale == 0 {
			continue
		}
		mg := merges[t.node]
		if mg == nil {
			base, err := onnxexport.DecodeTensor(t.init, dir)
			if err != nil {
				return nil, fmt.Errorf("lora: %s: %w", a.Key, err)
			}
			w, err := base.AsFloat32()
			if err != nil {
				return nil, fmt.Errorf("lora: %s: weight %s: %w", a.Key, t.init.GetName(), err)
			}
			mg = &merge{t: t, w: append([]float32(nil), w...), dtype: base.DType, shape: base.Shape}
			merges[t.node] = mg
			order = append(order, mg)
		}
		if err := addDelta(mg.w, mg.shape, t.outFirst, a); err != nil {
			return nil, err
		}
		mg.source = append(mg.source, a.Key)
	}
	g := m.GetGraph()
	for _, mg := range order {
		t := onnxexport.NewFloat32(mg.shape, mg.w)
		if mg.dtype == onnxexport.Float16 {
			h := make([]uint16, len(mg.w))
			for i, v := range mg.w {
				h[i] = onnxexport.Float32ToFloat16(v)
			}
			t = &onnxexport.Tensor{DType: onnxexport.Float16, Shape: mg.shape, Float16: h}
		} else if mg.dtype != onnxexport.Float32 {
			return nil, fmt.Errorf("lora: %s: weight %s is %v; float32 and float16 weights can be merged", mg.source[0], mg.t.init.GetName(), mg.dtype)
		}
		name := "lora_merged/" + mg.t.node.GetName()
		g.Initializer = append(g.Initializer, onnxexport.EncodeTensor(name, t))
		mg.t.node.Input[mg.t.input] = name
	}
	sort.Strings(unmatched)
	return unmatched, nil
}

// addDelta adds scale·alpha/rank·up·down to w, a weight of shape shape
// stored [out, in…] (outFirst) or [in, out].
func addDelta(w []float32, shape []int64, outFirst bool, a Scaled) error {
	if a.Kind != KindLoRA {
		return addDense(w, shape, outFirst, a)
	}
	rank := a.Rank()
	out := int(a.UpShape[0])
	k := len(a.Down) / rank // in × kernel
	mismatch := func() error {
		return fmt.Errorf("lora: %s: up %v · down %v does not fit weight %v", a.Key, a.UpShape, a.DownShape, shape)
	}
	if out*k != len(w) || len(a.Up) != out*rank {
		return mismatch()
	}
	if !outFirst && (len(shape) != 2 || int(shape[0]) != k || int(shape[1]) != out) {
		return mismatch()
	}
	if outFirst && int(shape[0]) != out {
		return mismatch()
	}
	s := a.Scale
	if a.Alpha != 0 {
		s *= float64(a.Alpha) / float64(rank)
	}
	row := make([]float64, k)
	for o := 0; o < out; o++ {
		clear(row)
		for r := 0; r < rank; r++ {
			u := float64(a.Up[o*rank+r])
			if u == 0 {
				continue
			}
			d := a.Down[r*k : (r+1)*k]
			for i, v := range d {
				row[i] += u * float64(v)
			}
		}
		for i, v := range row {
			if outFirst {
				w[o*k+i] += float32(s * v)
			} else {
				w[i*out+o] += float32(s * v)
			}
		}
	}
	return nil
}

// addDense adds a LoHa or LoKr update, scale·alpha/dim·ΔW, to w.
func addDense(w []float32, shape []int64, outFirst bool, a Scaled) error {
	var out, in, kernel int
	switch {
	case outFirst && len(shape) >= 2:
		out, in, kernel = int(shape[0]), int(shape[1]), 1
		for _, d := range shape[2:] {
			kernel *= int(d)
		}
	case !outFirst && len(shape) == 2:
		in, out, kernel = int(shape[0]), int(shape[1]), 1
	default:
		return fmt.Errorf("lora: %s: weight %v is no Linear or convolution weight", a.Key, shape)
	}
	d, err := a.dense(out, in, kernel)
	if err != nil {
		return err
	}
	s := a.Scale
	if dim := a.dim(); a.Alpha != 0 && dim > 0 {
		s *= float64(a.Alpha) / float64(dim)
	}
	k := in * kernel
	for o := range out {
		for i := range k {
			if outFirst {
				w[o*k+i] += float32(s * d[o*k+i])
			} else {
				w[i*out+o] += float32(s * d[o*k+i])
			}
		}
	}
	return nil
}
