package ort_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
)

// affineModel builds y = x @ W + b with W large enough to go to external
// data.
func affineModel(t *testing.T) *onnxpb.ModelProto {
	t.Helper()
	b := onnxexport.NewBuilder("affine")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(4))
	w := make([]float32, 4*300)
	for i := range w {
		w[i] = float32(i%17) / 9
	}
	bias := make([]float32, 300)
	for i := range bias {
		bias[i] = float32(i) / 100
	}
	y := b.Add(b.MatMul(x, b.Param("w", onnxexport.NewFloat32([]int64{4, 300}, w))),
		b.Param("b", onnxexport.NewFloat32([]int64{300}, bias)))
	b.Output("y", y)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runAffine(t *testing.T, path string) []float32 {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{"y": {}}
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{1, 4}, F32: []float32{1, -2, 0.5, 3}}}, out); err != nil {
		t.Fatal(err)
	}
	return out["y"].F32
}

// TestScanModelExternalData checks that the external-data file is read from
// the model's own entries, whatever it is called, and that such models run
// as the inline one does.
func TestScanModelExternalData(t *testing.T) {
	testort.Init(t)
	inline := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(inline, affineModel(t)); err != nil {
		t.Fatal(err)
	}
	sum, err := ort.ScanModel(inline)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.ExternalData) != 0 {
		t.Errorf("inline model: external data %v, want none", sum.ExternalData)
	}
	if got := opNames(sum.Ops); !slices.Contains(got, "MatMul") || !slices.Contains(got, "Add") {
		t.Errorf("ops %v, want MatMul and Add among them", got)
	}
	want := runAffine(t, inline)
	for _, name := range []string{"model.onnx.data", "model.onnx_data", "weights.pb"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := onnxexport.Save(path, affineModel(t), onnxexport.WithExternalDataName(name)); err != nil {
				t.Fatal(err)
			}
			sum, err := ort.ScanModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.ExternalData) != 1 || sum.ExternalData[0] != name {
				t.Fatalf("external data %v, want [%s]", sum.ExternalData, name)
			}
			if len(sum.Inputs) != 1 || sum.Inputs[0].Name != "x" || len(sum.Outputs) != 1 {
				t.Errorf("io %v %v", sum.Inputs, sum.Outputs)
			}
			got := runAffine(t, path)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("y[%d] = %v, want %v (the inline model's)", i, got[i], want[i])
				}
			}
		})
	}
}

func opNames(ops []ort.Op) []string {
	var s []string
	for _, op := range ops {
		s = append(s, op.String())
	}
	return s
}

// contribModel is x -> com.microsoft op -> y, the shape of an export
// optimized for CUDA.
func contribModel(t *testing.T, op string, nIn int, attrs ...onnxexport.Attr) string {
	t.Helper()
	b := onnxexport.NewBuilder("contrib")
	shape := []onnxexport.Dim{onnxexport.D(1), onnxexport.D(4), onnxexport.D(4), onnxexport.D(8)}
	x := b.Input("x", onnxexport.Float32, shape...)
	ins := []*onnxexport.Value{x}
	for i := 1; i < nIn; i++ {
		ins = append(ins, b.Param("p"+string(rune('0'+i)), onnxexport.NewFloat32([]int64{8}, make([]float32, 8))))
	}
	y := b.Op(op, ins, attrs, onnxexport.ValueType{DType: onnxexport.Float32, Shape: onnxexport.Shape(shape)})[0]
	b.Output("y", y)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Node {
		if n.GetOpType() == op {
			n.Domain = proto.String("com.microsoft")
		}
	}
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)})
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCUDAOnlyOperatorOnCPU checks the error for Olive-style exports on the
// CPU: it names the operator and suggests --device cuda, both for an
// operator known beforehand and for one ONNX Runtime itself reports.
func TestCUDAOnlyOperatorOnCPU(t *testing.T) {
	testort.Init(t)
	for _, tc := range []struct {
		op    string
		nIn   int
		attrs []onnxexport.Attr
	}{
		{"GroupNorm", 3, []onnxexport.Attr{onnxexport.IntAttr("groups", 2), onnxexport.IntAttr("activation", 0)}},
		{"BiasDropout", 2, nil},
	} {
		t.Run(tc.op, func(t *testing.T) {
			path := contribModel(t, tc.op, tc.nIn, tc.attrs...)
			sum, err := ort.ScanModel(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := opNames(sum.Ops); !slices.Contains(got, "com.microsoft."+tc.op) {
				t.Errorf("ops %v, want com.microsoft.%s", got, tc.op)
			}
			s, err := ort.Open(path, ort.Options{})
			if err == nil {
				s.Close()
				t.Fatal("opened on the CPU, want an error")
			}
			if !errors.Is(err, ort.ErrCUDAOnly) || !strings.Contains(err.Error(), tc.op) || !strings.Contains(err.Error(), "--device cuda") {
				t.Errorf("got %v, want ErrCUDAOnly naming %s and suggesting --device cuda", err, tc.op)
			}
		})
	}
}

// TestScanModelSkipsLargeWeights scans a model whose 3.2 MB of weights sit
// inside the file (skipped by seeking) and the same file cut short.
func TestScanModelSkipsLargeWeights(t *testing.T) {
	b := onnxexport.NewBuilder("big")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(8))
	w := b.Param("w", onnxexport.NewFloat32([]int64{8, 100000}, make([]float32, 800000)))
	b.Output("y", b.MatMul(x, w))
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnxexport.Save(path, m); err != nil {
		t.Fatal(err)
	}
	sum, err := ort.ScanModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Inputs) != 1 || sum.Inputs[0].Name != "x" || len(sum.Outputs) != 1 || sum.Outputs[0].Name != "y" {
		t.Errorf("io %v %v, want x and y", sum.Inputs, sum.Outputs)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ort.ScanModel(cut); !errors.Is(err, ort.ErrFormat) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: got %v, want ErrFormat (truncated)", err)
	}
}
