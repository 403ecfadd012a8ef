// Package detecttest writes random-weight image classifiers in the I/O
// forms public detector exports use, for the tests of package detect and
// of imagegen detect.
package detecttest

import (
	"os"
	"path/filepath"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Form is one export's layout and I/O.
type Form struct {
	// ModelPath is the model's path in the folder ("onnx/model.onnx").
	ModelPath string
	// Input is the image input's name; Rank is 4 ([batch,3,S,S], batch
	// symbolic) or 3 ([3,S,S]).
	Input string
	Rank  int
	Side  int64
	// Output is the logits' name ([batch,2], or [1,2] for rank 3).
	Output string
	// Config and Preprocessor are config.json and
	// preprocessor_config.json ("" writes none).
	Config, Preprocessor string
}

// SwinV2Form is the form of SoldadoXara/ai-image-detector-deploy-ONNX
// (an export of haywoodsloan/ai-image-detector-deploy): pixel_values
// [batch,3,256,256] → logits [batch,2] in onnx/, ImageNet mean/std, the
// labels artificial/real. The side is 32 here to keep tests small.
var SwinV2Form = Form{
	ModelPath: "onnx/model.onnx", Input: "pixel_values", Rank: 4, Side: 32, Output: "logits",
	Config: `{"architectures": ["Swinv2ForImageClassification"], "id2label": {"0": "artificial", "1": "real"}, "label2id": {"artificial": 0, "real": 1}, "image_size": 32}`,
	Preprocessor: `{"do_normalize": true, "do_rescale": true, "do_resize": true, "image_mean": [0.485, 0.456, 0.406],
 "image_processor_type": "ViTImageProcessor", "image_std": [0.229, 0.224, 0.225], "resample": 3, "rescale_factor": 0.00392156862745098,
 "size": {"height": 32, "width": 32}}`,
}

// ImdetForm is the form of Deckard618/imdet's pe_tiny and pe_small: a
// folder with model.onnx and config.json, an image input in [0, 1]
// without normalization, 2 logits with index 0 = fake; the input here is
// an unbatched [3,S,S] under a name other than pixel_values.
var ImdetForm = Form{
	ModelPath: "model.onnx", Input: "input", Rank: 3, Side: 24, Output: "output",
	Config: `{"id2label": {"0": "fake", "1": "real"}, "input_size": 24}`,
}

// Write writes a classifier in form f into dir: the per-channel means
// of the input through a linear layer to 2 logits. It returns the layer's
// weight (2x3, row-major) and bias.
func Write(t testing.TB, dir string, f Form, seed uint64) (weight []float32, bias []float32) {
	t.Helper()
	b := onnxexport.NewBuilder("detector")
	l := onnxexport.NewLayers(b, seed)
	var x, m *onnxexport.Value
	if f.Rank == 4 {
		x = b.Input(f.Input, onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(f.Side), onnxexport.D(f.Side))
		m = b.ReduceMean(x, false, 2, 3)
	} else {
		x = b.Input(f.Input, onnxexport.Float32, onnxexport.D(3), onnxexport.D(f.Side), onnxexport.D(f.Side))
		m = b.Reshape(b.ReduceMean(x, false, 1, 2), 1, 3)
	}
	b.Output(f.Output, l.Linear("classifier", m, 2, true))
	model, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.FromSlash(f.ModelPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnxexport.Save(path, model); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"config.json": f.Config, "preprocessor_config.json": f.Preprocessor} {
		if text == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range b.Params() {
		switch p.Name {
		case "classifier.weight":
			weight = p.Tensor.Float32
		case "classifier.bias":
			bias = p.Tensor.Float32
		}
	}
	if len(weight) != 6 || len(bias) != 2 {
		t.Fatalf("classifier parameters: weight %d values, bias %d", len(weight), len(bias))
	}
	return weight, bias
}
