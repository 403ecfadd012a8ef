package ort

// Float64AddModel adds two float64 vectors (for the external test package).
var Float64AddModel = buildModel(
	[]tnode{{op: "Add", inputs: []string{"x", "y"}, outputs: []string{"z"}}},
	[]tvi{{"x", onnxDouble, []any{"n"}}, {"y", onnxDouble, []any{"n"}}},
	[]tvi{{"z", onnxDouble, []any{"n"}}},
)

const onnxDouble = 11
