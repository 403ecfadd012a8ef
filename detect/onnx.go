package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/imagegen/imagegen/ort"
)

// ErrNotClassifier is wrapped by OpenONNX's errors about models whose
// inputs or outputs are not an image classifier's.
var ErrNotClassifier = errors.New("not a 2-class image classifier")

// ErrLabels is wrapped by OpenONNX's errors when the folder's config does
// not say which output is the generated class.
var ErrLabels = errors.New("cannot tell which logit means generated")

// modelFiles are where exports keep the model, in the order tried:
// transformers.js / Optimum layouts and a plain folder.
var modelFiles = []string{"model.onnx", "onnx/model.onnx", "onnx/model_fp16.onnx", "onnx/model_quantized.onnx", "onnx/model_uint8.onnx"}

// ONNXOptions configure OpenONNX.
type ONNXOptions struct {
	// Session configures ONNX Runtime.
	Session ort.Options
	// GeneratedIndex, when not nil, is the logit that means generated,
	// overriding config.json.
	GeneratedIndex *int
}

// ONNXDetector runs a public classifier export: an ONNX model with one
// image input (pixel_values, or a single input of shape [N,3,H,W] or
// [3,H,W]) and a 2-logit output; the generated class is read from the
// folder's config.json (id2label, or a labels list), the preprocessing
// from its preprocessor_config.json.
type ONNXDetector struct {
	sess      *ort.Session
	input     ort.IOInfo
	output    string
	h, w      int
	pre       Preprocess
	generated int
	labels    [2]string
}

// OpenONNX opens the classifier in dir (a folder, or a .onnx file whose
// folder holds the configs).
func OpenONNX(dir string, o ONNXOptions) (*ONNXDetector, error) {
	model, err := findModel(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	labels, err := readLabels(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	d := &ONNXDetector{labels: [2]string{labels[0], labels[1]}}
	if o.GeneratedIndex != nil {
		if *o.GeneratedIndex != 0 && *o.GeneratedIndex != 1 {
			return nil, fmt.Errorf("detect: generated index %d: want 0 or 1", *o.GeneratedIndex)
		}
		d.generated = *o.GeneratedIndex
	} else if d.generated, err = generatedIndex(labels); err != nil {
		return nil, fmt.Errorf("detect: %s: %w", dir, err)
	}
	if d.pre, err = readPreprocess(filepath.Join(dir, "preprocessor_config.json")); err != nil {
		return nil, err
	}
	if d.sess, err = ort.Open(model, o.Session); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if err := d.checkIO(); err != nil {
		d.sess.Close()
		return nil, fmt.Errorf("detect: %s: %w", model, err)
	}
	return d, nil
}

func findModel(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("detect: %w", err)
	}
	if !st.IsDir() {
		return dir, nil
	}
	for _, f := range modelFiles {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("detect: %s: no ONNX model (looked for %s)", dir, strings.Join(modelFiles, ", "))
}

// readLabels returns the two class names of config.json: transformers'
// id2label, or a "labels" list. A missing file or field gives "0", "1".
func readLabels(path string) ([]string, error) {
	labels := []string{"0", "1"}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return labels, nil
	}
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	var cfg struct {
		ID2Label map[string]string `json:"id2label"`
		Labels   []string          `json:"labels"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("detect: %s: %w", path, err)
	}
	switch {
	case len(cfg.ID2Label) > 0:
		if len(cfg.ID2Label) != 2 {
			return nil, fmt.Errorf("detect: %s: id2label has %d classes, want 2: %w", path, len(cfg.ID2Label), ErrNotClassifier)
		}
		for k, v := range cfg.ID2Label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i > 1 {
				return nil, fmt.Errorf("detect: %s: id2label key %q: want 0 or 1", path, k)
			}
			labels[i] = v
		}
	case len(cfg.Labels) > 0:
		if len(cfg.Labels) != 2 {
			return nil, fmt.Errorf("detect: %s: labels has %d classes, want 2: %w", path, len(cfg.Labels), ErrNotClassifier)
		}
		copy(labels, cfg.Labels)
	}
	return labels, nil
}

// Words that name each class in the detectors' configs seen so far
// ("fake"/"real", "artificial"/"real", "ai"/"human", "ai_gen"/"human").
var (
	generatedWords = map[string]bool{"fake": true, "artificial": true, "ai": true, "generated": true, "synthetic": true, "deepfake": true, "gen": true, "aigenerated": true}
	realWords      = map[string]bool{"real": true, "human": true, "authentic": true, "natural": true, "nature": true, "genuine": true}
)

func generatedIndex(labels []string) (int, error) {
	kind := func(label string) (gen, real bool) {
		for _, w := range strings.FieldsFunc(strings.ToLower(label), func(r rune) bool { return !unicode.IsLetter(r) }) {
			gen = gen || generatedWords[w]
			real = real || realWords[w]
		}
		return gen, !gen && real
	}
	g0, r0 := kind(labels[0])
	g1, r1 := kind(labels[1])
	switch {
	case g0 && !g1 || r1 && !r0 && !g1:
		return 0, nil
	case g1 && !g0 || r0 && !r1 && !g0:
		return 1, nil
	}
	return 0, fmt.Errorf("%w: labels %q and %q (config.json id2label); name the generated one's index", ErrLabels, labels[0], labels[1])
}

// checkIO finds the image input and the logits output.
func (d *ONNXDetector) checkIO() error {
	ins := d.sess.Inputs()
	var in *ort.IOInfo
	for i := range ins {
		if ins[i].Name == "pixel_values" {
			in = &ins[i]
		}
	}
	if in == nil && len(ins) == 1 {
		in = &ins[0]
	}
	if in == nil {
		return fmt.Errorf("%w: want an input named pixel_values or a single input, got %s", ErrNotClassifier, ioList(ins))
	}
	if len(ins) > 1 {
		return fmt.Errorf("%w: inputs %s besides %s need values this command cannot give", ErrNotClassifier, ioList(ins), in.Name)
	}
	shape := in.Shape
	if len(shape) == 4 {
		shape = shape[1:]
	}
	if len(shape) != 3 || (shape[0] != 3 && shape[0] >= 0) {
		return fmt.Errorf("%w: input %s: want [N,3,H,W] or [3,H,W]", ErrNotClassifier, in)
	}
	d.input, d.h, d.w = *in, int(shape[1]), int(shape[2])
	if d.h < 0 || d.w < 0 {
		size := d.pre.CropSize
		if !size.set() {
			size = d.pre.Size
		}
		if size.Height <= 0 || size.Width <= 0 {
			return fmt.Errorf("%w: input %s has a dynamic size and preprocessor_config.json gives none", ErrNotClassifier, in)
		}
		d.h, d.w = size.Height, size.Width
	}
	outs := d.sess.Outputs()
	if len(outs) == 0 {
		return fmt.Errorf("%w: no outputs", ErrNotClassifier)
	}
	o := outs[0]
	for _, x := range outs {
		if x.Name == "logits" {
			o = x
		}
	}
	if n := len(o.Shape); n == 0 || (o.Shape[n-1] != 2 && o.Shape[n-1] >= 0) {
		return fmt.Errorf("%w: output %s: want 2 logits", ErrNotClassifier, o)
	}
	d.output = o.Name
	return nil
}

func ioList(list []ort.IOInfo) string {
	names := make([]string, len(list))
	for i, x := range list {
		names[i] = x.String()
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Score runs the classifier on img and returns the softmax probability of
// the generated class.
func (d *ONNXDetector) Score(ctx context.Context, img image.Image) (float64, error) {
	if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 {
		return 0, fmt.Errorf("detect: empty picture")
	}
	shape := []int64{3, int64(d.h), int64(d.w)}
	if d.input.Rank() == 4 {
		shape = append([]int64{1}, shape...)
	}
	in := map[string]ort.Tensor{d.input.Name: {Shape: shape, F32: d.pre.tensor(img, d.h, d.w)}}
	var logits ort.Tensor
	if err := d.sess.Run(ctx, in, map[string]*ort.Tensor{d.output: &logits}); err != nil {
		return 0, fmt.Errorf("detect: %w", err)
	}
	if len(logits.F32) != 2 {
		return 0, fmt.Errorf("detect: output %s has shape %v: %w", d.output, logits.Shape, ErrNotClassifier)
	}
	a, b := float64(logits.F32[d.generated]), float64(logits.F32[1-d.generated])
	p := 1 / (1 + math.Exp(b-a))
	if math.IsNaN(p) {
		return 0, fmt.Errorf("detect: the model gave logits %v", logits.F32)
	}
	return p, nil
}

// Labels returns the config's names of the generated and the real class.
func (d *ONNXDetector) Labels() (string, string) {
	return d.labels[d.generated], d.labels[1-d.generated]
}

// Close releases the ONNX Runtime session.
func (d *ONNXDetector) Close() error { return d.sess.Close() }
