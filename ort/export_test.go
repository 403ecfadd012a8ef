package ort

// Test models shared with the external test package.
var (
	AddModel = buildModel(
		[]tnode{{op: "Add", inputs: []string{"x", "y"}, outputs: []string{"z"}}},
		[]tvi{{"x", onnxFloat, []any{"batch", 3}}, {"y", onnxFloat, []any{"batch", 3}}},
		[]tvi{{"z", onnxFloat, []any{"batch", 3}}})
	CastInt32Model = buildModel(
		[]tnode{{op: "Cast", inputs: []string{"input_ids"}, outputs: []string{"out"}, attrs: [][]byte{intAttr("to", onnxFloat)}}},
		[]tvi{{"input_ids", onnxInt32, []any{"batch", "seq"}}},
		[]tvi{{"out", onnxFloat, []any{"batch", "seq"}}})
	CastInt64Model = buildModel(
		[]tnode{{op: "Cast", inputs: []string{"input_ids"}, outputs: []string{"out"}, attrs: [][]byte{intAttr("to", onnxFloat)}}},
		[]tvi{{"input_ids", onnxInt64, []any{"batch", "seq"}}},
		[]tvi{{"out", onnxFloat, []any{"batch", "seq"}}})
	HalfModel = buildModel(
		[]tnode{{op: "Identity", inputs: []string{"x"}, outputs: []string{"out"}}},
		[]tvi{{"x", onnxFloat16, []any{"n"}}},
		[]tvi{{"out", onnxFloat16, []any{"n"}}})
	ScalarAddModel = buildModel(
		[]tnode{{op: "Add", inputs: []string{"x", "t"}, outputs: []string{"out"}}},
		[]tvi{{"x", onnxFloat, []any{2}}, {"t", onnxFloat, []any{}}},
		[]tvi{{"out", onnxFloat, []any{2}}})
)

// TwoOutputModel returns x as "a" and x+x as "b".
var TwoOutputModel = buildModel(
	[]tnode{
		{op: "Identity", inputs: []string{"x"}, outputs: []string{"a"}},
		{op: "Add", inputs: []string{"x", "x"}, outputs: []string{"b"}},
	},
	[]tvi{{"x", onnxFloat, []any{"n"}}},
	[]tvi{{"a", onnxFloat, []any{"n"}}, {"b", onnxFloat, []any{"n"}}})

// FromORT exposes the element-type mapping to tests.
var FromORT = fromORT
