package ort_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

func writeModel(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAddFloat32(t *testing.T) {
	testort.Init(t)
	s, err := ort.Open(writeModel(t, ort.AddModel), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Inputs()[0].String(); got != "x float32 [batch,3]" {
		t.Errorf("input info: got %q", got)
	}
	in := map[string]ort.Tensor{
		"x": {Shape: []int64{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
		"y": {Shape: []int64{2, 3}, F32: []float32{10, 20, 30, 40, 50, 60}},
	}
	want := []float32{11, 22, 33, 44, 55, 66}
	t.Run("allocated", func(t *testing.T) {
		out := map[string]*ort.Tensor{"z": {}}
		if err := s.Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		checkF32(t, out["z"], []int64{2, 3}, want)
	})
	t.Run("preallocated", func(t *testing.T) {
		buf := make([]float32, 6)
		out := map[string]*ort.Tensor{"z": {Shape: []int64{2, 3}, F32: buf}}
		if err := s.Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		checkF32(t, out["z"], []int64{2, 3}, want)
		if &out["z"].F32[0] != &buf[0] {
			t.Error("preallocated output buffer was not used")
		}
	})
}

func checkF32(t *testing.T, got *ort.Tensor, shape []int64, want []float32) {
	t.Helper()
	if len(got.Shape) != len(shape) {
		t.Fatalf("shape: got %v, want %v", got.Shape, shape)
	}
	for i := range shape {
		if got.Shape[i] != shape[i] {
			t.Fatalf("shape: got %v, want %v", got.Shape, shape)
		}
	}
	if len(got.F32) != len(want) {
		t.Fatalf("data: got %v, want %v", got.F32, want)
	}
	for i := range want {
		if got.F32[i] != want[i] {
			t.Fatalf("data[%d]: got %v, want %v", i, got.F32[i], want[i])
		}
	}
}

func TestRunConvertsTypes(t *testing.T) {
	testort.Init(t)
	tests := []struct {
		name  string
		model []byte
		in    ort.Tensor
		want  []float32
	}{
		{"int32 ids from int64", ort.CastInt32Model, ort.Tensor{Shape: []int64{1, 3}, I64: []int64{7, -2, 49407}}, []float32{7, -2, 49407}},
		{"int64 ids", ort.CastInt64Model, ort.Tensor{Shape: []int64{1, 2}, I64: []int64{1 << 40, 3}}, []float32{1 << 40, 3}},
		{"float16 in and out", ort.HalfModel, ort.Tensor{Shape: []int64{4}, F32: []float32{0.5, -2, 1000, 0.1}}, []float32{0.5, -2, 1000, 0.099975586}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ort.Open(writeModel(t, tc.model), ort.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			name := s.Inputs()[0].Name
			for run := 0; run < 2; run++ { // the second run uses cached shapes/buffers
				out := map[string]*ort.Tensor{"out": {}}
				if err := s.Run(context.Background(), map[string]ort.Tensor{name: tc.in}, out); err != nil {
					t.Fatal(err)
				}
				checkF32(t, out["out"], tc.in.Shape, tc.want)
			}
		})
	}
}

func TestRunScalarTimestep(t *testing.T) {
	testort.Init(t)
	s, err := ort.Open(writeModel(t, ort.ScalarAddModel), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ts := range []ort.Tensor{
		{Shape: []int64{}, F32: []float32{5}},
		{Shape: []int64{1}, F32: []float32{5}},
		{Shape: []int64{2}, F32: []float32{5, 5}},
	} {
		out := map[string]*ort.Tensor{"out": {}}
		in := map[string]ort.Tensor{"x": {Shape: []int64{2}, F32: []float32{1, 2}}, "t": ts}
		if err := s.Run(context.Background(), in, out); err != nil {
			t.Fatalf("timestep shape %v: %v", ts.Shape, err)
		}
		checkF32(t, out["out"], []int64{2}, []float32{6, 7})
	}
	in := map[string]ort.Tensor{"x": {Shape: []int64{2}, F32: []float32{1, 2}}, "t": {Shape: []int64{2}, F32: []float32{5, 6}}}
	if err := s.Run(context.Background(), in, map[string]*ort.Tensor{"out": {}}); err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Errorf("different per-sample timesteps into a scalar input: got %v, want an error", err)
	}
}

func TestRunErrors(t *testing.T) {
	testort.Init(t)
	path := writeModel(t, ort.AddModel)
	s, err := ort.Open(path, ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := ort.Tensor{Shape: []int64{1, 3}, F32: []float32{1, 2, 3}}
	tests := []struct {
		name string
		in   map[string]ort.Tensor
		out  map[string]*ort.Tensor
		want string
	}{
		{"unknown input", map[string]ort.Tensor{"x": good, "y": good, "w": good}, nil, `no input "w"`},
		{"missing input", map[string]ort.Tensor{"x": good}, nil, "missing input y float32 [batch,3]"},
		{"wrong rank", map[string]ort.Tensor{"x": good, "y": {Shape: []int64{3}, F32: []float32{1, 2, 3}}}, nil, "want rank 2"},
		{"static dim", map[string]ort.Tensor{"x": good, "y": {Shape: []int64{1, 2}, F32: []float32{1, 2}}}, nil, "dimension 1 must be 3"},
		{"short data", map[string]ort.Tensor{"x": good, "y": {Shape: []int64{2, 3}, F32: []float32{1, 2}}}, nil, "needs 6 values"},
		{"unknown output", map[string]ort.Tensor{"x": good, "y": good}, map[string]*ort.Tensor{"q": {}}, `no output "q"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == nil {
				out = map[string]*ort.Tensor{"z": {}}
			}
			err := s.Run(context.Background(), tc.in, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Run(ctx, map[string]ort.Tensor{"x": good, "y": good}, map[string]*ort.Tensor{"z": {}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

func TestOpenBadModels(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	trunc := filepath.Join(dir, "truncated.onnx")
	os.WriteFile(trunc, ort.AddModel[:len(ort.AddModel)-7], 0o644)
	garbage := filepath.Join(dir, "garbage.onnx")
	os.WriteFile(garbage, []byte("this is not a model, just text\n"), 0o644)
	empty := filepath.Join(dir, "empty.onnx")
	os.WriteFile(empty, nil, 0o644)
	for _, p := range []string{trunc, garbage, empty, filepath.Join(dir, "missing.onnx")} {
		s, err := ort.Open(p, ort.Options{})
		if err == nil {
			s.Close()
			t.Errorf("%s: opened without error", filepath.Base(p))
			continue
		}
		if !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: error does not name the file: %v", filepath.Base(p), err)
		}
	}
	if _, err := ort.OpenBytes("embedded", []byte{0xff, 0xff}, ort.Options{}); err == nil {
		t.Error("OpenBytes accepted garbage")
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"", "cpu", false}, {"cpu", "cpu", false}, {"CUDA", "cuda", false}, {"cuda:1", "cuda:1", false},
		{"auto", "auto", false}, {"cuda:x", "", true}, {"tpu", "", true}, {"cuda:-1", "", true},
	}
	for _, tc := range tests {
		d, err := ort.ParseDevice(tc.in)
		if (err != nil) != tc.err || (err == nil && d.String() != tc.want) {
			t.Errorf("ParseDevice(%q) = %v, %v; want %q (error %v)", tc.in, d, err, tc.want, tc.err)
		}
	}
}

func TestCUDAMissingIsClearError(t *testing.T) {
	testort.Init(t)
	if ps, _ := ort.Providers(); len(ps) > 1 {
		t.Skip("CUDA is available here")
	}
	_, err := ort.Open(writeModel(t, ort.AddModel), ort.Options{Device: ort.Device{Kind: ort.DeviceCUDA}})
	if err == nil || !strings.Contains(err.Error(), "libonnxruntime_providers_") {
		t.Fatalf("got %v, want an error naming the missing CUDA provider library", err)
	}
	var notice string
	s, err := ort.Open(writeModel(t, ort.AddModel), ort.Options{Device: ort.Device{Kind: ort.DeviceAuto}, Notice: func(m string) { notice = m }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Device().Kind != ort.DeviceCPU || !strings.Contains(notice, "CPU") {
		t.Errorf("auto: device %v, notice %q; want cpu with a notice", s.Device(), notice)
	}
}

func TestRunOutputSubset(t *testing.T) {
	testort.Init(t)
	s, err := ort.Open(writeModel(t, ort.TwoOutputModel), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]ort.Tensor{"x": {Shape: []int64{3}, F32: []float32{1, 2, 3}}}
	for _, shape := range [][]int64{{3}, nil} { // bound (preallocated) and allocated paths
		out := map[string]*ort.Tensor{"b": {Shape: shape}}
		if err := s.Run(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
		checkF32(t, out["b"], []int64{3}, []float32{2, 4, 6})
	}
}
