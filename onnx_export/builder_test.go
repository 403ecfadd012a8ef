package onnxexport

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// smallGraph builds y = softmax(x @ W + b) with a dynamic batch.
func smallGraph(t *testing.T) *Builder {
	t.Helper()
	b := NewBuilder("small")
	x := b.Input("x", Float32, Sym("batch"), D(3))
	wdata := make([]float32, 3*100) // over 1 KiB, so it can go external
	for i := range wdata {
		wdata[i] = float32(i) / 7
	}
	w := b.Param("fc.weight", NewFloat32([]int64{3, 100}, wdata))
	bias := b.Param("fc.bias", NewFloat32([]int64{100}, make([]float32, 100)))
	y := b.Softmax(b.Add(b.MatMul(x, w), bias), -1)
	b.Output("y", y)
	b.SetMetadata("purpose", "test")
	return b
}

func TestBuildRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []SaveOption
		external bool
	}{
		{"inline", nil, false},
		{"external", []SaveOption{WithExternalData()}, true},
		{"external named", []SaveOption{WithExternalDataName("weights.pb")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := smallGraph(t)
			m, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := Save(path, m, tc.opts...); err != nil {
				t.Fatal(err)
			}
			got, err := ReadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Opset != Opset {
				t.Errorf("opset %d, want %d", got.Opset, Opset)
			}
			if got.Metadata["purpose"] != "test" {
				t.Errorf("metadata %v", got.Metadata)
			}
			if len(got.Inputs) != 1 || got.Inputs[0].Name != "x" || got.Inputs[0].Shape.String() != "[batch,3]" {
				t.Errorf("inputs %+v", got.Inputs)
			}
			if len(got.Outputs) != 1 || got.Outputs[0].Name != "y" || got.Outputs[0].Shape.String() != "[batch,100]" {
				t.Errorf("outputs %+v", got.Outputs)
			}
			var ops []string
			for _, n := range got.Proto.Graph.Node {
				ops = append(ops, n.GetOpType())
			}
			if want := "MatMul Add Softmax Identity"; strings.Join(ops, " ") != want {
				t.Errorf("ops %v, want %s", ops, want)
			}
			for _, in := range b.Initializers() {
				gt, ok := got.Initializers[in.Name]
				if !ok {
					t.Fatalf("initializer %s missing", in.Name)
				}
				if !equalInts(gt.Shape, in.Tensor.Shape) || gt.DType != in.Tensor.DType {
					t.Errorf("%s: %v %v, want %v %v", in.Name, gt.DType, gt.Shape, in.Tensor.DType, in.Tensor.Shape)
				}
				for i := range in.Tensor.Float32 {
					if gt.Float32[i] != in.Tensor.Float32[i] {
						t.Errorf("%s[%d] = %v, want %v", in.Name, i, gt.Float32[i], in.Tensor.Float32[i])
					}
				}
			}
			ext := m.Graph.Initializer[0].GetDataLocation() != 0
			if ext != tc.external {
				t.Errorf("external data %v, want %v", ext, tc.external)
			}
			if ext {
				want := "model.onnx_data"
				if tc.name == "external named" {
					want = "weights.pb"
				}
				if loc := m.Graph.Initializer[0].ExternalData[0].GetValue(); loc != want {
					t.Errorf("external data in %q, want %q", loc, want)
				}
			}
			if n := got.NumParams(); n != 400 {
				t.Errorf("NumParams = %d, want 400", n)
			}
		})
	}
}

func TestShapeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(b *Builder)
		want  []string
		kind  error
	}{
		{"add", func(b *Builder) {
			x := b.Input("x", Float32, D(2), D(3))
			y := b.Input("y", Float32, D(4))
			defer b.Scope("blockA")()
			b.Add(x, y)
		}, []string{"[2,3]", "[4]", "blockA", "Add"}, ErrShape},
		{"matmul", func(b *Builder) {
			x := b.Input("x", Float32, Sym("n"), D(3))
			w := b.Param("w", NewFloat32([]int64{4, 5}, make([]float32, 20)))
			b.MatMul(x, w)
		}, []string{"[n,3]", "[4,5]"}, ErrShape},
		{"conv channels", func(b *Builder) {
			x := b.Input("x", Float32, Sym("n"), D(3), D(8), D(8))
			w := b.Param("w", NewFloat32([]int64{4, 5, 3, 3}, make([]float32, 180)))
			defer b.Scope("conv_in")()
			b.Conv(x, w, nil, ConvOptions{})
		}, []string{"3 channels", "wants 5", "conv_in"}, ErrShape},
		{"reshape", func(b *Builder) {
			x := b.Input("x", Float32, D(2), D(3))
			b.Output("y", b.Reshape(x, 4, -1))
		}, []string{"[2,3]", "do not divide"}, ErrShape},
		{"type", func(b *Builder) {
			x := b.Input("x", Float32, D(2))
			y := b.Input("y", Int64, D(2))
			b.Mul(x, y)
		}, []string{"float32", "int64"}, ErrType},
		{"nil", func(b *Builder) {
			x := b.Input("x", Float32, D(2))
			b.Sub(x, nil)
		}, []string{"nil"}, ErrArgument},
		{"sticky", func(b *Builder) {
			x := b.Input("x", Float32, D(2))
			bad := b.Concat(0, x, b.Input("y", Float32, D(2), D(1)))
			b.Output("out", b.Relu(bad))
		}, []string{"Concat", "differ in rank"}, ErrShape},
		{"no outputs", func(b *Builder) { b.Input("x", Float32, D(1)) }, []string{"no outputs"}, ErrArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("g")
			tc.build(b)
			_, err := b.Build()
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestShapeInference(t *testing.T) {
	b := NewBuilder("shapes")
	x := b.Input("x", Float32, Sym("batch"), D(8), Sym("h"), Sym("w"))
	w := b.Param("w", NewFloat32([]int64{16, 8, 3, 3}, make([]float32, 16*8*9)))
	for _, tc := range []struct {
		name string
		v    *Value
		want string
	}{
		{"conv same", b.Conv(x, w, nil, ConvOptions{Pads: []int64{1, 1, 1, 1}}), "[batch,16,h,w]"},
		{"group reshape", b.Reshape(x, 0, 2, -1), "[batch,2,?]"},
		{"reshape like", b.ReshapeLike(b.Reshape(x, 0, 2, -1), x), "[batch,8,h,w]"},
		{"transpose", b.Transpose(x, 0, 2, 3, 1), "[batch,h,w,8]"},
		{"dynamic reshape", b.ReshapeTo(x, b.Concat(0, b.DimOf(x, 0), b.ConstInts(8, -1))), "[batch,8,?]"},
		{"upsample", b.UpsampleNearest(b.Input("s", Float32, D(1), D(2), D(3), D(4)), 2), "[1,2,6,8]"},
		{"reduce", b.ReduceMean(x, true, 2, 3), "[batch,8,1,1]"},
		{"split", b.Split(x, 1, 3, 5)[1], "[batch,5,h,w]"},
		{"slice", b.Slice(b.Input("t", Float32, D(10), D(4)), []int64{2}, []int64{-1}, nil, []int64{3}), "[3,4]"},
		{"unsqueeze", b.Unsqueeze(b.Input("u", Float32, D(5)), 0, 2), "[1,5,1]"},
		{"gather", b.Gather(b.Input("emb", Float32, D(10), D(4)), b.Input("ids", Int64, Sym("b"), Sym("s")), 0), "[b,s,4]"},
		{"matmul batch", b.MatMul(b.Input("q", Float32, Sym("b"), D(2), D(5), D(3)), b.Input("k", Float32, D(3), D(7))), "[b,2,5,7]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if got := tc.v.Shape().String(); got != tc.want {
				t.Errorf("shape %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSaveRefusesExternalDataPath(t *testing.T) {
	m, err := smallGraph(t).Build()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"../weights.pb", "sub/weights.pb", ".."} {
		err := Save(filepath.Join(dir, "model.onnx"), m, WithExternalDataName(name))
		if err == nil || !strings.Contains(err.Error(), "plain file name") {
			t.Errorf("name %q: got %v, want a plain-file-name error", name, err)
		}
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "*")); len(got) != 0 {
		t.Errorf("refused saves left files behind: %v", got)
	}
}
