package detect

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/detecttest"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

var colorGray = color.NRGBA{128, 128, 128, 255}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// TestONNXForms runs random-weight classifiers in the I/O forms of the
// two public exports and checks each score against the same arithmetic
// done here: per-channel means of the preprocessed input through the
// linear layer, softmax at the generated class (index 0 in both configs).
func TestONNXForms(t *testing.T) {
	testort.Init(t)
	imagenetMean := []float64{0.485, 0.456, 0.406}
	imagenetStd := []float64{0.229, 0.224, 0.225}
	tests := []struct {
		name      string
		form      detecttest.Form
		mean, std []float64
		labels    [2]string
	}{
		{"swinv2 pixel_values", detecttest.SwinV2Form, imagenetMean, imagenetStd, [2]string{"artificial", "real"}},
		{"imdet unbatched", detecttest.ImdetForm, []float64{0, 0, 0}, []float64{1, 1, 1}, [2]string{"fake", "real"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, b := detecttest.Write(t, dir, tt.form, 7)
			d, err := OpenONNX(dir, ONNXOptions{Session: ort.Options{IntraOpThreads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if g, r := d.Labels(); g != tt.labels[0] || r != tt.labels[1] {
				t.Errorf("labels %q, %q; want %q", g, r, tt.labels)
			}
			for _, c := range []color.NRGBA{{200, 100, 50, 255}, {0, 255, 30, 255}, {12, 34, 250, 255}} {
				// A picture of another size and aspect: resized and
				// cropped, a solid color keeps its value.
				img := solid(50, 40, c)
				got, err := d.Score(context.Background(), img)
				if err != nil {
					t.Fatal(err)
				}
				var logits [2]float64
				rgb := []float64{float64(c.R), float64(c.G), float64(c.B)}
				for k := range 2 {
					logits[k] = float64(b[k])
					for ch := range 3 {
						m := (rgb[ch]/255 - tt.mean[ch]) / tt.std[ch]
						logits[k] += float64(w[k*3+ch]) * m
					}
				}
				want := 1 / (1 + math.Exp(logits[1]-logits[0]))
				if math.Abs(got-want) > 1e-5 {
					t.Errorf("color %v: score %.6f, want %.6f", c, got, want)
				}
			}
		})
	}
}

func TestGeneratedIndex(t *testing.T) {
	tests := []struct {
		labels []string
		want   int
	}{
		{[]string{"fake", "real"}, 0},
		{[]string{"artificial", "real"}, 0},
		{[]string{"ai_gen", "human"}, 0},
		{[]string{"Real", "AI"}, 1},
		{[]string{"human", "AI-generated"}, 1},
		{[]string{"LABEL_0", "LABEL_1"}, -1},
		{[]string{"fake", "deepfake"}, -1},
	}
	for _, tt := range tests {
		got, err := generatedIndex(tt.labels)
		if tt.want < 0 {
			if !errors.Is(err, ErrLabels) {
				t.Errorf("%q: got %d, %v; want ErrLabels", tt.labels, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %d, %v; want %d", tt.labels, got, err, tt.want)
		}
	}
}

func TestOpenONNXErrors(t *testing.T) {
	testort.Init(t)
	opts := ONNXOptions{Session: ort.Options{IntraOpThreads: 1}}

	empty := t.TempDir()
	if _, err := OpenONNX(empty, opts); err == nil {
		t.Error("folder without a model: no error")
	}

	noLabels := t.TempDir()
	form := detecttest.ImdetForm
	form.Config = ""
	detecttest.Write(t, noLabels, form, 1)
	if _, err := OpenONNX(noLabels, opts); !errors.Is(err, ErrLabels) {
		t.Errorf("no config.json: got %v, want ErrLabels", err)
	}
	one := 1
	d, err := OpenONNX(noLabels, ONNXOptions{Session: opts.Session, GeneratedIndex: &one})
	if err != nil {
		t.Fatalf("no config.json, generated index 1: %v", err)
	}
	d.Close()

	three := t.TempDir()
	form.Config = `{"id2label": {"0": "fake", "1": "real", "2": "cartoon"}}`
	detecttest.Write(t, three, form, 1)
	if _, err := OpenONNX(three, opts); !errors.Is(err, ErrNotClassifier) {
		t.Errorf("3 labels: got %v, want ErrNotClassifier", err)
	}

	badPre := t.TempDir()
	form = detecttest.SwinV2Form
	form.Preprocessor = `{"image_mean": [0.5, 0.5], "image_std": [0.5, 0.5]}`
	detecttest.Write(t, badPre, form, 1)
	if _, err := OpenONNX(badPre, opts); err == nil {
		t.Error("2-channel image_mean: no error")
	}

	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, "model.onnx"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbage, "config.json"), []byte(`{"id2label": {"0": "fake", "1": "real"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenONNX(garbage, opts); err == nil {
		t.Error("garbage model file: no error")
	}
}
