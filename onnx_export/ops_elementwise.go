package onnxexport

// Element-wise ops: numpy-broadcasting binary arithmetic and comparisons,
// unary math, Where and Cast.

func (b *Builder) binary(op string, x, y *Value, outType DType) *Value {
	if !b.check(op, x, y) {
		return b.placeholder(outType)
	}
	if x.dtype != y.dtype {
		b.failf(op, ErrType, "%s is %v, %s is %v", x.name, x.dtype, y.name, y.dtype)
		return b.placeholder(outType)
	}
	shape, err := broadcastShapes(x.shape, y.shape)
	if err != nil {
		b.failf(op, ErrShape, "%s %v and %s %v: %v", x.name, x.shape, y.name, y.shape, err)
		return b.placeholder(outType)
	}
	if outType == Undefined {
		outType = x.dtype
	}
	return b.op1(op, []*Value{x, y}, nil, outType, shape)
}

// Add returns x + y with numpy broadcasting.
func (b *Builder) Add(x, y *Value) *Value { return b.binary("Add", x, y, Undefined) }

// Sub returns x - y with numpy broadcasting.
func (b *Builder) Sub(x, y *Value) *Value { return b.binary("Sub", x, y, Undefined) }

// Mul returns x * y with numpy broadcasting.
func (b *Builder) Mul(x, y *Value) *Value { return b.binary("Mul", x, y, Undefined) }

// Div returns x / y with numpy broadcasting.
func (b *Builder) Div(x, y *Value) *Value { return b.binary("Div", x, y, Undefined) }

// Pow returns x ** y with numpy broadcasting.
func (b *Builder) Pow(x, y *Value) *Value { return b.binary("Pow", x, y, Undefined) }

// Max returns the element-wise maximum of x and y.
func (b *Builder) Max(x, y *Value) *Value { return b.binary("Max", x, y, Undefined) }

// Min returns the element-wise minimum of x and y.
func (b *Builder) Min(x, y *Value) *Value { return b.binary("Min", x, y, Undefined) }

// Equal returns the boolean x == y.
func (b *Builder) Equal(x, y *Value) *Value { return b.binary("Equal", x, y, Bool) }

// Less returns the boolean x < y.
func (b *Builder) Less(x, y *Value) *Value { return b.binary("Less", x, y, Bool) }

// Greater returns the boolean x > y.
func (b *Builder) Greater(x, y *Value) *Value { return b.binary("Greater", x, y, Bool) }

func (b *Builder) unary(op string, x *Value) *Value {
	if !b.check(op, x) {
		return b.placeholder(Float32)
	}
	return b.op1(op, []*Value{x}, nil, x.dtype, x.shape.clone())
}

// Neg returns -x.
func (b *Builder) Neg(x *Value) *Value { return b.unary("Neg", x) }

// Abs returns |x|.
func (b *Builder) Abs(x *Value) *Value { return b.unary("Abs", x) }

// Sqrt returns the element-wise square root.
func (b *Builder) Sqrt(x *Value) *Value { return b.unary("Sqrt", x) }

// Reciprocal returns 1/x.
func (b *Builder) Reciprocal(x *Value) *Value { return b.unary("Reciprocal", x) }

// Sigmoid returns 1/(1+exp(-x)).
func (b *Builder) Sigmoid(x *Value) *Value { return b.unary("Sigmoid", x) }

// Tanh returns tanh(x).
func (b *Builder) Tanh(x *Value) *Value { return b.unary("Tanh", x) }

// Erf returns the error function of x.
func (b *Builder) Erf(x *Value) *Value { return b.unary("Erf", x) }

// Exp returns e**x.
func (b *Builder) Exp(x *Value) *Value { return b.unary("Exp", x) }

// Log returns the natural logarithm of x.
func (b *Builder) Log(x *Value) *Value { return b.unary("Log", x) }

// Sin returns sin(x).
func (b *Builder) Sin(x *Value) *Value { return b.unary("Sin", x) }

// Cos returns cos(x).
func (b *Builder) Cos(x *Value) *Value { return b.unary("Cos", x) }

// Relu returns max(x, 0).
func (b *Builder) Relu(x *Value) *Value { return b.unary("Relu", x) }

// LeakyRelu returns x where x > 0 and alpha·x elsewhere.
func (b *Builder) LeakyRelu(x *Value, alpha float32) *Value {
	if !b.check("LeakyRelu", x) {
		return b.placeholder(Float32)
	}
	return b.op1("LeakyRelu", []*Value{x}, []Attr{FloatAttr("alpha", alpha)}, x.dtype, x.shape.clone())
}

// Identity returns a copy of x (a new name for the same data).
func (b *Builder) Identity(x *Value) *Value { return b.unary("Identity", x) }

// Not returns the boolean negation of x.
func (b *Builder) Not(x *Value) *Value {
	if !b.check("Not", x) {
		return b.placeholder(Bool)
	}
	if x.dtype != Bool {
		b.failf("Not", ErrType, "%s is %v, want bool", x.name, x.dtype)
		return b.placeholder(Bool)
	}
	return b.unary("Not", x)
}

// Where returns cond ? x : y with broadcasting over all three.
func (b *Builder) Where(cond, x, y *Value) *Value {
	if !b.check("Where", cond, x, y) {
		return b.placeholder(Float32)
	}
	if cond.dtype != Bool || x.dtype != y.dtype {
		b.failf("Where", ErrType, "condition %v (want bool), branches %v and %v", cond.dtype, x.dtype, y.dtype)
		return b.placeholder(x.dtype)
	}
	s, err := broadcastShapes(x.shape, y.shape)
	if err == nil {
		s, err = broadcastShapes(cond.shape, s)
	}
	if err != nil {
		b.failf("Where", ErrShape, "condition %v, x %v, y %v: %v", cond.shape, x.shape, y.shape, err)
		return b.placeholder(x.dtype)
	}
	return b.op1("Where", []*Value{cond, x, y}, nil, x.dtype, s)
}

// Cast converts x to element type to.
func (b *Builder) Cast(x *Value, to DType) *Value {
	if !b.check("Cast", x) {
		return b.placeholder(to)
	}
	if to.Size() == 0 {
		b.failf("Cast", ErrType, "cannot cast to %v", to)
		return b.placeholder(to)
	}
	out := b.op1("Cast", []*Value{x}, []Attr{IntAttr("to", int64(to))}, to, x.shape.clone())
	if to == Int64 {
		out.content = x.content
	}
	return out
}

// ScalarLike returns a scalar constant v of x's element type, for
// arithmetic that must work in float32 and float64 graphs alike.
func (b *Builder) ScalarLike(x *Value, v float64) *Value {
	if !b.check("ScalarLike", x) {
		return b.placeholder(Float32)
	}
	return b.Const(scalarTensor(x.dtype, v))
}

func scalarTensor(dt DType, v float64) *Tensor {
	t := &Tensor{DType: dt, Shape: []int64{}}
	switch dt {
	case Float64:
		t.Float64 = []float64{v}
	case Float16:
		t.Float16 = []uint16{Float32ToFloat16(float32(v))}
	case Int64:
		t.Int64 = []int64{int64(v)}
	case Int32:
		t.Int32 = []int32{int32(v)}
	case Bool:
		t.Bool = []bool{v != 0}
	default:
		t.DType = Float32
		t.Float32 = []float32{float32(v)}
	}
	return t
}

// ConstInts returns a 1-D int64 constant.
func (b *Builder) ConstInts(v ...int64) *Value {
	return b.Const(NewInt64([]int64{int64(len(v))}, append([]int64{}, v...)))
}

// ConstFloat32 returns a float32 constant of the given shape.
func (b *Builder) ConstFloat32(shape []int64, data []float32) *Value {
	return b.Const(NewFloat32(shape, data))
}
