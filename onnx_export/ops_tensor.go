package onnxexport

import "fmt"

// Shape-manipulating ops: Shape, Reshape, Transpose, Concat, Split, Slice,
// Gather, Unsqueeze, Squeeze, Expand. 1-D int64 values built from Shape,
// constants, Slice, Gather and Concat remember which dimensions they hold,
// so a dynamic Reshape still gets a static-where-known output shape.

// inferParam marks a literal -1 ("infer this dimension") inside a shape
// vector's content, which must not read as an unknown dimension.
const inferParam = "\x00infer"

// intsContent returns the dimensions a 1-D int64 constant holds.
func intsContent(v []int64) Shape {
	s := make(Shape, len(v))
	for i, n := range v {
		switch {
		case n >= 0:
			s[i] = D(n)
		case n == -1:
			s[i] = Dim{Size: -1, Param: inferParam}
		default:
			s[i] = Dim{Size: n} // invalid; Reshape reports it
		}
	}
	return s
}

// ShapeOf returns the 1-D int64 shape of x (ONNX Shape).
func (b *Builder) ShapeOf(x *Value) *Value {
	if !b.check("Shape", x) {
		return b.placeholder(Int64)
	}
	if x.shape == nil {
		return b.op1("Shape", []*Value{x}, nil, Int64, Shape{Dim{Size: -1}})
	}
	out := b.op1("Shape", []*Value{x}, nil, Int64, Static(int64(len(x.shape))))
	out.content = x.shape.clone()
	return out
}

// DimOf returns dimension axis of x as a 1-element int64 vector, ready to
// Concat into a shape.
func (b *Builder) DimOf(x *Value, axis int) *Value {
	s := b.ShapeOf(x)
	return b.Slice(s, []int64{int64(axis)}, []int64{int64(axis) + 1}, nil, nil)
}

// Reshape reshapes x to a constant shape; 0 copies the input dimension and
// -1 is inferred, as in ONNX.
func (b *Builder) Reshape(x *Value, shape ...int64) *Value {
	if !b.check("Reshape", x) {
		return b.placeholder(x.dtype)
	}
	return b.ReshapeTo(x, b.ConstInts(shape...))
}

// ReshapeTo reshapes x to the shape held in the 1-D int64 value shape.
func (b *Builder) ReshapeTo(x, shape *Value) *Value {
	if !b.check("Reshape", x, shape) {
		return b.placeholder(Float32)
	}
	if shape.dtype != Int64 || shape.Rank() != 1 {
		b.failf("Reshape", ErrType, "shape operand is %v %v, want 1-D int64", shape.dtype, shape.shape)
		return b.placeholder(x.dtype)
	}
	out, err := reshapeShape(x.shape, shape)
	if err != nil {
		b.failf("Reshape", ErrShape, "%s %v to %v: %v", x.name, x.shape, shape.content, err)
		return b.placeholder(x.dtype)
	}
	return b.op1("Reshape", []*Value{x, shape}, nil, x.dtype, out)
}

// ReshapeLike reshapes x to ref's run-time shape.
func (b *Builder) ReshapeLike(x, ref *Value) *Value { return b.ReshapeTo(x, b.ShapeOf(ref)) }

func reshapeShape(in Shape, target *Value) (Shape, error) {
	if target.content == nil {
		if target.shape.IsStatic() {
			out := make(Shape, target.shape[0].Size)
			for i := range out {
				out[i] = Dim{Size: -1}
			}
			return out, nil
		}
		return nil, nil
	}
	out := make(Shape, len(target.content))
	infer := -1
	for i, d := range target.content {
		switch {
		case d.Known() && d.Size == 0:
			if in == nil || i >= len(in) {
				return nil, fmt.Errorf("0 at position %d copies a dimension the input lacks", i)
			}
			out[i] = in[i]
		case d.Param == inferParam:
			if infer >= 0 {
				return nil, fmt.Errorf("more than one -1")
			}
			infer = i
			out[i] = Dim{Size: -1}
		case d.Size < -1:
			return nil, fmt.Errorf("negative dimension %d", d.Size)
		default:
			out[i] = d
		}
	}
	total := in.NumElements()
	known := int64(1)
	allKnown := true
	for i, d := range out {
		if i == infer {
			continue
		}
		if !d.Known() {
			allKnown = false
			continue
		}
		known *= d.Size
	}
	if in != nil && total >= 0 && allKnown {
		if infer >= 0 {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("%d elements do not divide into %d", total, known)
			}
			out[infer] = D(total / known)
		} else if known != total {
			return nil, fmt.Errorf("%d elements cannot take a shape of %d", total, known)
		}
	}
	return out, nil
}

// Transpose permutes the axes of x.
func (b *Builder) Transpose(x *Value, perm ...int64) *Value {
	if !b.check("Transpose", x) {
		return b.placeholder(Float32)
	}
	if x.shape != nil && len(perm) != len(x.shape) {
		b.failf("Transpose", ErrShape, "%s %v with permutation %v of another rank", x.name, x.shape, perm)
		return b.placeholder(x.dtype)
	}
	var out Shape
	if x.shape != nil {
		seen := make([]bool, len(perm))
		out = make(Shape, len(perm))
		for i, p := range perm {
			if p < 0 || int(p) >= len(perm) || seen[p] {
				b.failf("Transpose", ErrArgument, "bad permutation %v", perm)
				return b.placeholder(x.dtype)
			}
			seen[p] = true
			out[i] = x.shape[p]
		}
	}
	return b.op1("Transpose", []*Value{x}, []Attr{IntsAttr("perm", perm...)}, x.dtype, out)
}

// Concat joins xs along axis.
func (b *Builder) Concat(axis int64, xs ...*Value) *Value {
	if !b.check("Concat", xs...) {
		return b.placeholder(Float32)
	}
	if len(xs) == 0 {
		b.failf("Concat", ErrArgument, "no inputs")
		return b.placeholder(Float32)
	}
	first := xs[0]
	rank := first.Rank()
	if rank < 0 {
		return b.op1("Concat", xs, []Attr{IntAttr("axis", axis)}, first.dtype, nil)
	}
	ax, err := normAxis(axis, rank)
	if err != nil {
		b.failf("Concat", ErrArgument, "%v", err)
		return b.placeholder(first.dtype)
	}
	out := first.shape.clone()
	var content Shape
	for i, x := range xs {
		if x.dtype != first.dtype {
			b.failf("Concat", ErrType, "input %d is %v, input 0 is %v", i, x.dtype, first.dtype)
			return b.placeholder(first.dtype)
		}
		if x.Rank() != rank {
			b.failf("Concat", ErrShape, "input %d %v and input 0 %v differ in rank", i, x.shape, first.shape)
			return b.placeholder(first.dtype)
		}
		for d := range rank {
			if d != ax && !compatibleDim(x.shape[d], first.shape[d]) {
				b.failf("Concat", ErrShape, "input %d %v and input 0 %v differ off axis %d", i, x.shape, first.shape, ax)
				return b.placeholder(first.dtype)
			}
		}
		if i > 0 {
			a, c := out[ax], x.shape[ax]
			if a.Known() && c.Known() {
				out[ax] = D(a.Size + c.Size)
			} else {
				out[ax] = Dim{Size: -1}
			}
		}
		if rank == 1 && x.content != nil && (i == 0 || content != nil) {
			content = append(content, x.content...)
		} else {
			content = nil
		}
	}
	v := b.op1("Concat", xs, []Attr{IntAttr("axis", axis)}, first.dtype, out)
	if rank == 1 && first.dtype == Int64 {
		v.content = content
	}
	return v
}

// Split cuts x along axis into pieces of the given sizes.
func (b *Builder) Split(x *Value, axis int64, sizes ...int64) []*Value {
	fail := func() []*Value {
		out := make([]*Value, len(sizes))
		for i := range out {
			out[i] = b.placeholder(Float32)
		}
		return out
	}
	if !b.check("Split", x) {
		return fail()
	}
	if x.Rank() < 0 {
		b.failf("Split", ErrShape, "%s has unknown rank", x.name)
		return fail()
	}
	ax, err := normAxis(axis, x.Rank())
	if err != nil {
		b.failf("Split", ErrArgument, "%v", err)
		return fail()
	}
	var sum int64
	outs := make([]ValueType, len(sizes))
	for i, s := range sizes {
		if s < 0 {
			b.failf("Split", ErrArgument, "negative size %d", s)
			return fail()
		}
		sum += s
		sh := x.shape.clone()
		sh[ax] = D(s)
		outs[i] = ValueType{x.dtype, sh}
	}
	if d := x.shape[ax]; d.Known() && d.Size != sum {
		b.failf("Split", ErrShape, "%s %v axis %d has %d, sizes %v add up to %d", x.name, x.shape, ax, d.Size, sizes, sum)
		return fail()
	}
	return b.Op("Split", []*Value{x, b.ConstInts(sizes...)}, []Attr{IntAttr("axis", axis)}, outs...)
}

// Slice takes x[starts:ends:steps] on the given axes (nil axes means
// 0..len(starts)-1, nil steps means 1), with ONNX's clamping rules.
func (b *Builder) Slice(x *Value, starts, ends, axes, steps []int64) *Value {
	if !b.check("Slice", x) {
		return b.placeholder(Float32)
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		b.failf("Slice", ErrArgument, "starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
		return b.placeholder(x.dtype)
	}
	var out Shape
	var content Shape
	if x.shape != nil {
		out = x.shape.clone()
		if x.content != nil && x.Rank() == 1 {
			content = x.content.clone()
		}
		for i, a := range axes {
			ax, err := normAxis(a, len(out))
			if err != nil {
				b.failf("Slice", ErrArgument, "%v", err)
				return b.placeholder(x.dtype)
			}
			if steps[i] == 0 {
				b.failf("Slice", ErrArgument, "step 0")
				return b.placeholder(x.dtype)
			}
			d := out[ax]
			if !d.Known() {
				out[ax] = Dim{Size: -1}
				content = nil
				continue
			}
			lo, hi, n := sliceRange(starts[i], ends[i], steps[i], d.Size)
			out[ax] = D(n)
			if content != nil {
				var c Shape
				for j := lo; (steps[i] > 0 && j < hi) || (steps[i] < 0 && j > hi); j += steps[i] {
					c = append(c, content[j])
				}
				content = c
			}
		}
	}
	v := b.op1("Slice", []*Value{x, b.ConstInts(starts...), b.ConstInts(ends...), b.ConstInts(axes...), b.ConstInts(steps...)}, nil, x.dtype, out)
	if x.dtype == Int64 {
		v.content = content
	}
	return v
}

// SliceTo is Slice with run-time starts and ends (1-D int64 values).
func (b *Builder) SliceTo(x, starts, ends *Value, axes ...int64) *Value {
	if !b.check("Slice", x, starts, ends) {
		return b.placeholder(Float32)
	}
	var out Shape
	if x.shape != nil {
		out = x.shape.clone()
		for _, a := range axes {
			ax, err := normAxis(a, len(out))
			if err != nil {
				b.failf("Slice", ErrArgument, "%v", err)
				return b.placeholder(x.dtype)
			}
			out[ax] = Dim{Size: -1}
		}
	}
	return b.op1("Slice", []*Value{x, starts, ends, b.ConstInts(axes...)}, nil, x.dtype, out)
}

// sliceRange clamps one Slice axis like ONNX and returns the first index,
// the exclusive end and the element count.
func sliceRange(start, end, step, dim int64) (lo, hi, n int64) {
	clamp := func(v, min, max int64) int64 {
		if v < min {
			return min
		}
		if v > max {
			return max
		}
		return v
	}
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		lo, hi = clamp(start, 0, dim), clamp(end, 0, dim)
		if hi > lo {
			n = (hi - lo + step - 1) / step
		}
	} else {
		lo, hi = clamp(start, 0, dim-1), clamp(end, -1, dim-1)
		if lo > hi {
			n = (lo - hi - step - 1) / -step
		}
	}
	return lo, hi, n
}

// Gather takes entries of x along axis at indices (int32 or int64).
func (b *Builder) Gather(x, indices *Value, axis int64) *Value {
	if !b.check("Gather", x, indices) {
		return b.placeholder(Float32)
	}
	if indices.dtype != Int64 && indices.dtype != Int32 {
		b.failf("Gather", ErrType, "indices are %v, want int32 or int64", indices.dtype)
		return b.placeholder(x.dtype)
	}
	var out Shape
	if x.shape != nil && indices.shape != nil {
		ax, err := normAxis(axis, len(x.shape))
		if err != nil {
			b.failf("Gather", ErrArgument, "%v", err)
			return b.placeholder(x.dtype)
		}
		out = append(out, x.shape[:ax]...)
		out = append(out, indices.shape...)
		out = append(out, x.shape[ax+1:]...)
		if out == nil {
			out = Shape{}
		}
	}
	v := b.op1("Gather", []*Value{x, indices}, []Attr{IntAttr("axis", axis)}, x.dtype, out)
	if x.content != nil && indices.init != nil && indices.dtype == Int64 {
		var c Shape
		for _, i := range indices.init.Tensor.Int64 {
			if i < 0 {
				i += int64(len(x.content))
			}
			if i < 0 || i >= int64(len(x.content)) {
				b.failf("Gather", ErrArgument, "index %d out of range %d", i, len(x.content))
				return v
			}
			c = append(c, x.content[i])
		}
		v.content = c
	}
	return v
}

// GatherND gathers slices of x addressed by the last axis of indices,
// treating the first batchDims axes as batch (ONNX GatherND).
func (b *Builder) GatherND(x, indices *Value, batchDims int64) *Value {
	if !b.check("GatherND", x, indices) {
		return b.placeholder(Float32)
	}
	if indices.dtype != Int64 {
		b.failf("GatherND", ErrType, "indices are %v, want int64", indices.dtype)
		return b.placeholder(x.dtype)
	}
	var out Shape
	if x.shape != nil && indices.shape != nil {
		q := len(indices.shape)
		last := indices.shape[q-1]
		if !last.Known() {
			return b.op1("GatherND", []*Value{x, indices}, []Attr{IntAttr("batch_dims", batchDims)}, x.dtype, nil)
		}
		if int(batchDims)+int(last.Size) > len(x.shape) {
			b.failf("GatherND", ErrShape, "data %v cannot be indexed by %v with batch_dims %d", x.shape, indices.shape, batchDims)
			return b.placeholder(x.dtype)
		}
		out = append(Shape{}, indices.shape[:q-1]...)
		out = append(out, x.shape[int(batchDims)+int(last.Size):]...)
	}
	return b.op1("GatherND", []*Value{x, indices}, []Attr{IntAttr("batch_dims", batchDims)}, x.dtype, out)
}

// Unsqueeze inserts size-1 axes at the given output positions.
func (b *Builder) Unsqueeze(x *Value, axes ...int64) *Value {
	if !b.check("Unsqueeze", x) {
		return b.placeholder(Float32)
	}
	var out Shape
	if x.shape != nil {
		r := len(x.shape) + len(axes)
		ins := make([]bool, r)
		for _, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil || ins[ax] {
				b.failf("Unsqueeze", ErrArgument, "bad axes %v for %v", axes, x.shape)
				return b.placeholder(x.dtype)
			}
			ins[ax] = true
		}
		out = make(Shape, 0, r)
		j := 0
		for i := range r {
			if ins[i] {
				out = append(out, D(1))
			} else {
				out = append(out, x.shape[j])
				j++
			}
		}
	}
	v := b.op1("Unsqueeze", []*Value{x, b.ConstInts(axes...)}, nil, x.dtype, out)
	if x.Rank() == 0 && x.content != nil {
		v.content = x.content
	}
	return v
}

// Squeeze removes the given size-1 axes.
func (b *Builder) Squeeze(x *Value, axes ...int64) *Value {
	if !b.check("Squeeze", x) {
		return b.placeholder(Float32)
	}
	var out Shape
	if x.shape != nil {
		drop := make([]bool, len(x.shape))
		for _, a := range axes {
			ax, err := normAxis(a, len(x.shape))
			if err != nil {
				b.failf("Squeeze", ErrArgument, "%v", err)
				return b.placeholder(x.dtype)
			}
			if d := x.shape[ax]; d.Known() && d.Size != 1 {
				b.failf("Squeeze", ErrShape, "%s %v axis %d is %d, not 1", x.name, x.shape, ax, d.Size)
				return b.placeholder(x.dtype)
			}
			drop[ax] = true
		}
		out = Shape{}
		for i, d := range x.shape {
			if !drop[i] {
				out = append(out, d)
			}
		}
	}
	return b.op1("Squeeze", []*Value{x, b.ConstInts(axes...)}, nil, x.dtype, out)
}

// Expand broadcasts x to the shape held in the 1-D int64 value shape.
func (b *Builder) Expand(x, shape *Value) *Value {
	if !b.check("Expand", x, shape) {
		return b.placeholder(Float32)
	}
	var out Shape
	if shape.content != nil {
		var err error
		target := shape.content.clone()
		for i := range target {
			if target[i].Param == inferParam {
				target[i] = Dim{Size: -1}
			}
		}
		out, err = broadcastShapes(x.shape, target)
		if err != nil {
			b.failf("Expand", ErrShape, "%s %v to %v: %v", x.name, x.shape, shape.content, err)
			return b.placeholder(x.dtype)
		}
	}
	return b.op1("Expand", []*Value{x, shape}, nil, x.dtype, out)
}
