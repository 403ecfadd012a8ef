package main

import (
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// TestPictureLabels checks that the shape listed first is the one the
// picture shows first: the upper (left) one of a vertical (horizontal)
// relation, restated as Above (LeftOf), else the one in the earlier grid
// cell; and that a one-shape scene keeps its labels.
func TestPictureLabels(t *testing.T) {
	ds := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	seen := map[string]int{}
	for i := range 400 {
		s, err := ds.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		got := pictureLabels(s)
		want := s.Scene.Attributes()
		if len(s.Scene.Shapes) == 1 {
			seen["one shape"]++
			for k := range want {
				if got[k] != want[k] {
					t.Fatalf("sample %d, one shape: attribute %d got %d, want %d", i, k, got[k], want[k])
				}
			}
			continue
		}
		swapped := got[1] != want[1] // colors of two shapes always differ
		first, second := s.Placements[0], s.Placements[1]
		if swapped {
			first, second = second, first
			seen["swapped"]++
		}
		switch rel := shapes.Relation(got[9]); rel {
		case shapes.Above:
			if first.Y >= second.Y {
				t.Errorf("sample %d %q: first shape at y %.1f, second at %.1f, labelled above", i, s.Caption, first.Y, second.Y)
			}
		case shapes.LeftOf:
			if first.X >= second.X {
				t.Errorf("sample %d %q: first shape at x %.1f, second at %.1f, labelled left of", i, s.Caption, first.X, second.X)
			}
		case shapes.RelNone:
			cell := func(p shapes.Placement) int { return 3*int(3*p.Y/imageSize) + int(3*p.X/imageSize) }
			if cell(first) >= cell(second) {
				t.Errorf("sample %d %q: first shape in cell %d, second in %d", i, s.Caption, cell(first), cell(second))
			}
		default:
			t.Errorf("sample %d %q: relation %v, want above, left of or none", i, s.Caption, rel)
		}
	}
	if seen["one shape"] == 0 || seen["swapped"] == 0 {
		t.Errorf("cases seen %v: want one-shape scenes and swapped pairs", seen)
	}
}

// TestGraphs checks that the training graph differentiates and that the
// exported graph takes the trained weights, heads or not.
func TestGraphs(t *testing.T) {
	b, loss := trainLoss(1, 4)
	if n := b.NumParams(); n > 300_000 {
		t.Errorf("%d parameters, want at most 300k", n)
	}
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		w[p.Name] = p.Tensor
	}
	if _, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{}); err != nil {
		t.Fatal(err)
	}
	for _, heads := range []bool{false, true} {
		g, err := inferenceGraph(w, heads)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if heads {
			want += len(shapes.AttributeClasses)
		}
		if len(g.Outputs()) != want || g.Outputs()[0].Name() != "features" {
			t.Errorf("heads %v: %d outputs, first %s; want %d, first features", heads, len(g.Outputs()), g.Outputs()[0].Name(), want)
		}
	}
}
