package detect

import (
	"context"
	"image"
	"testing"

	"github.com/imagegen/imagegen/shapes"
)

// TestBuiltinOnRealRenders checks the shipped detector on real held-out
// renders it was not trained on (the training script's real test
// pictures start at held-out index 1<<21; these are 1<<22 on), clean and
// after JPEG 75: the training script measured 2–4% of real pictures
// called generated clean and about 15% after JPEG.
func TestBuiltinOnRealRenders(t *testing.T) {
	d, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if g, r := d.Labels(); g != "generated" || r != "real" {
		t.Errorf("labels %q, %q", g, r)
	}
	const n = 100
	var clean, compressed int
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(1<<22 + i)
		if err != nil {
			t.Fatal(err)
		}
		for k, img := range []image.Image{s.Image, nil} {
			if k == 1 {
				if img, err = JPEG(s.Image, 75); err != nil {
					t.Fatal(err)
				}
			}
			p, err := d.Score(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if p < 0 || p > 1 {
				t.Fatalf("score %v outside [0, 1]", p)
			}
			if p >= 0.5 && k == 0 {
				clean++
			} else if p >= 0.5 {
				compressed++
			}
		}
	}
	if clean > n/10 || compressed > n/4 {
		t.Errorf("real renders called generated: %d of %d clean, %d after JPEG 75; want ≤ 10%% and ≤ 25%%", clean, n, compressed)
	}
}

func TestParseBuiltinModelErrors(t *testing.T) {
	for name, text := range map[string]string{
		"not json":        `{"model": `,
		"unknown field":   `{"model": {"mean": [0], "std": [1], "w2": [1], "b2": 0}, "extra": 1}`,
		"feature count":   `{"model": {"mean": [0], "std": [1], "w2": [1], "b2": 0}}`,
		"hidden mismatch": `{"model": {"mean": [0], "std": [1], "w1": [[1, 2]], "b1": [0], "w2": [1], "b2": 0}}`,
	} {
		if _, err := ParseBuiltinModel([]byte(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestJPEGRoundTrip(t *testing.T) {
	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	j, err := JPEG(s.Image, 75)
	if err != nil {
		t.Fatal(err)
	}
	if j.Bounds().Size() != s.Image.Bounds().Size() {
		t.Fatalf("size %v, want %v", j.Bounds().Size(), s.Image.Bounds().Size())
	}
	diff := 0
	for y := range 32 {
		for x := range 32 {
			r1, _, _, _ := j.At(x, y).RGBA()
			r2, _, _, _ := s.Image.At(x, y).RGBA()
			if r1>>8 != r2>>8 {
				diff++
			}
		}
	}
	if diff == 0 {
		t.Error("JPEG 75 left every red value unchanged")
	}
}
