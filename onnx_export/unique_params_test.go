package onnxexport

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestUniqueParams counts a tensor two models hold alike once, and
// tensors that differ in name or values each time.
func TestUniqueParams(t *testing.T) {
	model := func(name string, shared, own []float32) *Model {
		b := NewBuilder(name)
		x := b.Input("x", Float32, D(2))
		y := b.Add(b.Mul(x, b.Param("shared", NewFloat32([]int64{2}, shared))), b.Param(name+"_own", NewFloat32([]int64{2}, own)))
		b.Output("y", y)
		m, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecodeModel(raw, "")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := model("a", []float32{1, 2}, []float32{3, 4})
	b := model("b", []float32{1, 2}, []float32{5, 6})
	c := model("c", []float32{1, 9}, []float32{5, 6})
	for _, tc := range []struct {
		name   string
		models []*Model
		want   int64
	}{
		{"one", []*Model{a}, 4},
		{"shared tensor", []*Model{a, b}, 6},
		{"same name, other values", []*Model{a, c}, 8},
	} {
		if got := UniqueParams(tc.models...); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}
