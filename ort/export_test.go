package ort

import (
	"encoding/json"
	"os"
	"path/filepath"
)

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

// MatMulModel returns a model computing y = x·W for x of shape [batch, n]
// and an n×n weight W[i][j] = scale·(i-j), stored in the graph (n ≥ 16
// makes W large enough to go to an external data file when ONNX Runtime
// saves the optimized graph).
func MatMulModel(n int, scale float32) []byte {
	w := make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			w[i*n+j] = scale * float32(i-j)
		}
	}
	return buildModelInit(
		[]tnode{{op: "MatMul", inputs: []string{"x", "w"}, outputs: []string{"y"}}},
		[]tvi{{"x", onnxFloat, []any{"batch", n}}},
		[]tvi{{"y", onnxFloat, []any{"batch", n}}},
		[]tinit{{name: "w", dims: []int64{int64(n), int64(n)}, data: w}})
}

// SetFreeBytes replaces how c measures the free space of its folder.
func SetFreeBytes(c *GraphCache, f func(dir string) (int64, error)) { c.freeBytes = f }

// RewriteManifest records an entry's current files in its manifest, as if
// they had been written that way.
func RewriteManifest(entry string) error {
	data, err := os.ReadFile(filepath.Join(entry, entryManifest))
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for i, f := range m.Files {
		if m.Files[i], err = digestFile(filepath.Join(entry, f.Name), false); err != nil {
			return err
		}
	}
	if data, err = json.Marshal(m); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(entry, entryManifest), data, 0o644)
}

// ReshapeModel reshapes x to the shape given at run time (an impossible
// shape fails inside ONNX Runtime's executor).
var ReshapeModel = buildModel(
	[]tnode{{op: "Reshape", inputs: []string{"x", "shape"}, outputs: []string{"y"}}},
	[]tvi{{"x", onnxFloat, []any{"n"}}, {"shape", onnxInt64, []any{1}}},
	[]tvi{{"y", onnxFloat, []any{"m"}}})
