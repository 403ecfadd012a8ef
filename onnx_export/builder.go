package onnxexport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Opset is the ONNX default-domain opset version the builder targets.
const Opset = 17

// IRVersion is the ONNX IR version written into models (IR 8 goes with
// opset 17).
const IRVersion = 8

// Errors returned (wrapped) by Build and the op methods.
var (
	// ErrShape reports a shape that an op cannot accept; the message names
	// both shapes and the block (scope) the op was built in.
	ErrShape = errors.New("shape mismatch")
	// ErrType reports an element type an op cannot accept.
	ErrType = errors.New("type mismatch")
	// ErrArgument reports a bad argument (nil value, value of another
	// builder, duplicate name, unknown axis).
	ErrArgument = errors.New("bad argument")
)

// BuildError is the sticky error of a Builder: the first op that failed, in
// which block, and why. It unwraps to ErrShape, ErrType or ErrArgument.
type BuildError struct {
	Graph string // the builder's graph name
	Scope string // dotted block path, e.g. "down_blocks.0.resnets.1"
	Op    string // the op or builder method that failed
	Err   error
}

func (e *BuildError) Error() string {
	where := e.Graph
	if e.Scope != "" {
		where += " block " + e.Scope
	}
	return fmt.Sprintf("onnxexport: %s: %s: %v", where, e.Op, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

// Value is one tensor in the graph: a graph input, an initializer, or an op
// output. Values are created by Builder methods and belong to that builder.
type Value struct {
	b        *Builder
	name     string
	dtype    DType
	shape    Shape
	producer *Node
	init     *Initializer // set for initializers (parameters and constants)
	content  Shape        // for 1-D int64 shape vectors: the dimensions they hold, when known
	stopGrad bool         // made by StopGradient: Gradients treats it as a constant
}

// Name returns the value's name in the graph.
func (v *Value) Name() string { return v.name }

// DType returns the element type.
func (v *Value) DType() DType { return v.dtype }

// Shape returns the (possibly partly symbolic) shape; do not modify it.
func (v *Value) Shape() Shape { return v.shape }

// Rank returns the number of dimensions, -1 when unknown.
func (v *Value) Rank() int { return v.shape.Rank() }

// Producer returns the node that computes v, or nil for inputs and
// initializers.
func (v *Value) Producer() *Node { return v.producer }

// Initializer returns v's initializer, or nil when v is not one.
func (v *Value) Initializer() *Initializer { return v.init }

// Node is one op in the graph. Inputs holds nil for an omitted optional
// input.
type Node struct {
	Op      string
	Name    string
	Domain  string
	Inputs  []*Value
	Outputs []*Value
	Attrs   []Attr
}

// Attr returns the attribute called name, or nil.
func (n *Node) Attr(name string) *Attr {
	for i := range n.Attrs {
		if n.Attrs[i].Name == name {
			return &n.Attrs[i]
		}
	}
	return nil
}

// Initializer is a named tensor stored in the model. Trainable marks
// parameters (weights), as opposed to constants the builder made.
type Initializer struct {
	Name      string
	Tensor    *Tensor
	Trainable bool
	Value     *Value
}

// ValueType is the element type and shape of an op output, for Op.
type ValueType struct {
	DType DType
	Shape Shape
}

// Builder accumulates an ONNX graph. Its methods never panic on bad input:
// the first error is kept and later calls do nothing but return placeholder
// values, so a network is a flat list of calls followed by one check of
// Err or Build. A Builder is not safe for concurrent use.
type Builder struct {
	name     string
	err      error
	scope    []string
	names    map[string]bool
	nodes    []*Node
	inputs   []*Value
	outputs  []*Value
	inits    []*Initializer
	initByNm map[string]*Initializer
	meta     [][2]string
	doc      string
	counter  int
}

// NewBuilder returns an empty builder for a graph called name.
func NewBuilder(name string) *Builder {
	return &Builder{name: name, names: map[string]bool{}, initByNm: map[string]*Initializer{}}
}

// Name returns the graph name.
func (b *Builder) Name() string { return b.name }

// Err returns the sticky error, or nil.
func (b *Builder) Err() error { return b.err }

// Fail records err as the sticky error (if none is set yet), attributed to
// op in the current scope. Blocks outside the package use it to report
// their own configuration errors.
func (b *Builder) Fail(op string, err error) {
	if b.err == nil {
		b.err = &BuildError{Graph: b.name, Scope: strings.Join(b.scope, "."), Op: op, Err: err}
	}
}

func (b *Builder) failf(op string, kind error, format string, args ...any) {
	b.Fail(op, fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...)))
}

// Scope enters a named block: parameters made inside are prefixed with it
// ("down_blocks.0" then "resnets.1" gives "down_blocks.0.resnets.1.conv1.weight")
// and build errors name it. Call the returned function to leave the block:
//
//	defer b.Scope("conv1")()
func (b *Builder) Scope(name string) func() {
	if name == "" {
		return func() {}
	}
	b.scope = append(b.scope, name)
	n := len(b.scope)
	return func() {
		if len(b.scope) >= n {
			b.scope = b.scope[:n-1]
		}
	}
}

// ScopeName returns the current dotted block path.
func (b *Builder) ScopeName() string { return strings.Join(b.scope, ".") }

// SetMetadata adds a metadata_props entry to the model.
func (b *Builder) SetMetadata(key, value string) {
	for i := range b.meta {
		if b.meta[i][0] == key {
			b.meta[i][1] = value
			return
		}
	}
	b.meta = append(b.meta, [2]string{key, value})
}

// SetDoc sets the graph's doc_string.
func (b *Builder) SetDoc(doc string) { b.doc = doc }

// Nodes returns the graph's nodes in topological (creation) order.
func (b *Builder) Nodes() []*Node { return b.nodes }

// Inputs returns the graph inputs in declaration order.
func (b *Builder) Inputs() []*Value { return b.inputs }

// Outputs returns the graph outputs in declaration order.
func (b *Builder) Outputs() []*Value { return b.outputs }

// Initializers returns all initializers (parameters and constants) in
// creation order.
func (b *Builder) Initializers() []*Initializer { return b.inits }

// Params returns the trainable initializers in creation order.
func (b *Builder) Params() []*Initializer {
	var out []*Initializer
	for _, in := range b.inits {
		if in.Trainable {
			out = append(out, in)
		}
	}
	return out
}

// NumParams returns the number of trainable elements.
func (b *Builder) NumParams() int64 {
	var n int64
	for _, in := range b.Params() {
		n += in.Tensor.NumElements()
	}
	return n
}

// uniqueName returns base if unused, else base_N.
func (b *Builder) uniqueName(base string) string {
	name := base
	for b.names[name] {
		b.counter++
		name = base + "_" + strconv.Itoa(b.counter)
	}
	b.names[name] = true
	return name
}

// placeholder is what ops return once the builder has failed, so callers
// never see nil.
func (b *Builder) placeholder(dt DType) *Value {
	return &Value{b: b, name: "<error>", dtype: dt}
}

// check validates op inputs: none nil (unless optional), all from b.
func (b *Builder) check(op string, vs ...*Value) bool {
	if b.err != nil {
		return false
	}
	for i, v := range vs {
		if v == nil {
			b.failf(op, ErrArgument, "input %d is nil", i)
			return false
		}
		if v.b != b {
			b.failf(op, ErrArgument, "input %d (%s) belongs to another builder", i, v.name)
			return false
		}
	}
	return true
}

// Input declares a graph input. Use Sym for dynamic axes:
//
//	x := b.Input("sample", Float32, Sym("batch_size"), D(4), Sym("height"), Sym("width"))
func (b *Builder) Input(name string, dt DType, dims ...Dim) *Value {
	if b.err != nil {
		return b.placeholder(dt)
	}
	if name == "" || b.names[name] {
		b.failf("Input", ErrArgument, "input name %q empty or already used", name)
		return b.placeholder(dt)
	}
	b.names[name] = true
	v := &Value{b: b, name: name, dtype: dt, shape: append(Shape{}, dims...)}
	b.inputs = append(b.inputs, v)
	return v
}

// Output marks v as a graph output called name. When v already has another
// name an Identity node is added, so one value can feed several outputs.
func (b *Builder) Output(name string, v *Value) {
	if !b.check("Output", v) {
		return
	}
	if v.name != name || v.producer == nil {
		if b.names[name] {
			b.failf("Output", ErrArgument, "output name %q already used", name)
			return
		}
		b.names[name] = true
		out := &Value{b: b, name: name, dtype: v.dtype, shape: v.shape.clone()}
		n := &Node{Op: "Identity", Name: b.nodeName("Identity"), Inputs: []*Value{v}, Outputs: []*Value{out}}
		out.producer = n
		b.nodes = append(b.nodes, n)
		v = out
	}
	for _, o := range b.outputs {
		if o.name == name {
			b.failf("Output", ErrArgument, "output %q declared twice", name)
			return
		}
	}
	b.outputs = append(b.outputs, v)
}

// OutputAs is Output with a declared shape: dims replaces the inferred
// shape in the model's output list (to name dynamic axes such as "height"
// that inference could only call unknown). Static dimensions must agree.
func (b *Builder) OutputAs(name string, v *Value, dims ...Dim) {
	if !b.check("Output", v) {
		return
	}
	declared := Shape(append([]Dim{}, dims...))
	if v.shape != nil {
		if len(v.shape) != len(declared) {
			b.failf("Output", ErrShape, "output %s declared %v, computed %v", name, declared, v.shape)
			return
		}
		for i := range declared {
			if !compatibleDim(declared[i], v.shape[i]) {
				b.failf("Output", ErrShape, "output %s declared %v, computed %v", name, declared, v.shape)
				return
			}
		}
	}
	b.Output(name, v)
	if b.err == nil {
		b.outputs[len(b.outputs)-1].shape = declared
	}
}

// Param adds a trainable initializer named scope + "." + name (or name at
// top level) and returns its value. t is used, not copied.
func (b *Builder) Param(name string, t *Tensor) *Value {
	full := name
	if s := b.ScopeName(); s != "" {
		full = s + "." + name
	}
	return b.addInit("Param", full, t, true)
}

// Const adds a constant initializer with a generated name.
func (b *Builder) Const(t *Tensor) *Value {
	base := "const"
	if s := b.ScopeName(); s != "" {
		base = s + ".const"
	}
	return b.addInit("Const", b.freshName(base), t, false)
}

// freshName reserves a new unused name starting with base.
func (b *Builder) freshName(base string) string {
	b.counter++
	name := base + "_" + strconv.Itoa(b.counter)
	for b.names[name] {
		b.counter++
		name = base + "_" + strconv.Itoa(b.counter)
	}
	b.names[name] = true
	return name
}

func (b *Builder) addInit(op, name string, t *Tensor, trainable bool) *Value {
	dt := Float32
	if t != nil {
		dt = t.DType
	}
	if b.err != nil {
		return b.placeholder(dt)
	}
	if err := t.Validate(); err != nil {
		b.Fail(op, fmt.Errorf("%w: %s: %v", ErrArgument, name, err))
		return b.placeholder(dt)
	}
	if op == "Param" {
		if b.names[name] {
			b.failf(op, ErrArgument, "parameter name %q already used", name)
			return b.placeholder(dt)
		}
		b.names[name] = true
	}
	v := &Value{b: b, name: name, dtype: t.DType, shape: Static(t.Shape...)}
	in := &Initializer{Name: name, Tensor: t, Trainable: trainable, Value: v}
	v.init = in
	if t.DType == Int64 && len(t.Shape) == 1 {
		v.content = intsContent(t.Int64)
	}
	b.inits = append(b.inits, in)
	b.initByNm[name] = in
	return v
}

// LoadParams replaces the data of trainable initializers by the tensors of
// the same name in params (as ReadModel returns them), converting float16
// and float64 data to the parameter's type. It fails, naming the first
// offender, when a parameter is missing or its shape differs: a checkpoint
// of another architecture is refused rather than half loaded.
func (b *Builder) LoadParams(params map[string]*Tensor) error {
	if b.err != nil {
		return b.err
	}
	type repl struct {
		in *Initializer
		t  *Tensor
	}
	var todo []repl
	for _, in := range b.Params() {
		t, ok := params[in.Name]
		if !ok {
			return fmt.Errorf("onnxexport: load params into %s: %w: parameter %q missing from the checkpoint", b.name, ErrArgument, in.Name)
		}
		if !equalInts(t.Shape, in.Tensor.Shape) {
			return fmt.Errorf("onnxexport: load params into %s: %w: parameter %q has shape %v in the checkpoint, the network wants %v (another architecture?)", b.name, ErrShape, in.Name, t.Shape, in.Tensor.Shape)
		}
		nt := &Tensor{DType: in.Tensor.DType, Shape: append([]int64{}, t.Shape...)}
		switch in.Tensor.DType {
		case Float32:
			f, err := t.AsFloat32()
			if err != nil {
				return fmt.Errorf("onnxexport: load params into %s: parameter %q: %w", b.name, in.Name, err)
			}
			nt.Float32 = f
		default:
			if t.DType != in.Tensor.DType {
				return fmt.Errorf("onnxexport: load params into %s: %w: parameter %q is %v in the checkpoint, the network wants %v", b.name, ErrType, in.Name, t.DType, in.Tensor.DType)
			}
			nt = t
		}
		todo = append(todo, repl{in, nt})
	}
	for _, r := range todo {
		r.in.Tensor = r.t
	}
	return nil
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (b *Builder) nodeName(op string) string {
	b.counter++
	prefix := "/"
	if s := strings.Join(b.scope, "/"); s != "" {
		prefix += s + "/"
	}
	return prefix + op + "_" + strconv.Itoa(b.counter)
}

// Op appends a node of any ONNX op with the given inputs (nil for an
// omitted optional input) and attributes, and returns one new value per
// entry of outs. The caller states the output types: Op checks nothing
// about the op's semantics, so prefer the typed methods (Add, Conv, ...),
// which infer and check shapes. Domain "" is the default ONNX domain.
func (b *Builder) Op(op string, inputs []*Value, attrs []Attr, outs ...ValueType) []*Value {
	return b.opDomain("", op, inputs, attrs, outs...)
}

func (b *Builder) opDomain(domain, op string, inputs []*Value, attrs []Attr, outs ...ValueType) []*Value {
	res := make([]*Value, len(outs))
	fail := func() []*Value {
		for i, o := range outs {
			res[i] = b.placeholder(o.DType)
		}
		return res
	}
	if b.err != nil {
		return fail()
	}
	for i, v := range inputs {
		if v != nil && v.b != b {
			b.failf(op, ErrArgument, "input %d (%s) belongs to another builder", i, v.name)
			return fail()
		}
		if v != nil && v.name == "<error>" {
			b.failf(op, ErrArgument, "input %d is a placeholder from a failed op", i)
			return fail()
		}
	}
	n := &Node{Op: op, Domain: domain, Name: b.nodeName(op), Inputs: append([]*Value{}, inputs...), Attrs: attrs}
	for i, o := range outs {
		name := b.freshName(strings.TrimPrefix(n.Name, "/") + "_out")
		if len(outs) == 1 {
			name = b.freshName(strings.TrimPrefix(n.Name, "/"))
		}
		_ = i
		res[i] = &Value{b: b, name: name, dtype: o.DType, shape: o.Shape.clone(), producer: n}
	}
	n.Outputs = res
	b.nodes = append(b.nodes, n)
	return res
}

// op1 is Op for the common single-output case.
func (b *Builder) op1(op string, inputs []*Value, attrs []Attr, dt DType, shape Shape) *Value {
	return b.opDomain("", op, inputs, attrs, ValueType{dt, shape})[0]
}
