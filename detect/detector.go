package detect

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
)

// Detector scores pictures: the probability that each is generated.
type Detector interface {
	// Score returns the probability in [0, 1] that img is generated.
	Score(ctx context.Context, img image.Image) (float64, error)
	// Labels returns the names of the two classes, generated first.
	Labels() (generated, real string)
	// Close releases what the detector holds.
	Close() error
}

// BuiltinName is the name of the built-in detector in --model values
// ("builtin" alone means it too).
const BuiltinName = "builtin:detector"

// IsBuiltin reports whether a --model value names the built-in detector.
func IsBuiltin(name string) bool {
	return name == "" || name == "builtin" || name == BuiltinName
}

//go:embed detector.json
var builtinJSON []byte

// BuiltinModel is the shipped built-in detector: the model and
// what it was trained on.
type BuiltinModel struct {
	Model Model `json:"model"`
	// Families lists the generators whose pictures it was trained on.
	Families []string `json:"families"`
	// Size is the side of the pictures it was trained on.
	Size int `json:"size"`
	// Note says how it was trained (scripts/train_detector writes it).
	Note string `json:"note"`
}

// ParseBuiltinModel decodes and validates a built-in detector file.
func ParseBuiltinModel(data []byte) (*BuiltinModel, error) {
	var m BuiltinModel
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("detect: built-in detector: %w", err)
	}
	if err := m.Model.Validate(); err != nil {
		return nil, err
	}
	if m.Model.Features() != NumFeatures {
		return nil, fmt.Errorf("detect: built-in detector takes %d features, this build computes %d", m.Model.Features(), NumFeatures)
	}
	return &m, nil
}

// Builtin returns the built-in passive detector: the frequency features
// of package detect scored by the logistic model embedded in the binary.
func Builtin() (Detector, error) {
	m, err := ParseBuiltinModel(builtinJSON)
	if err != nil {
		return nil, err
	}
	return &featureDetector{m: m}, nil
}

// NewFeatureDetector returns a Detector that scores Features with m.
func NewFeatureDetector(m *Model) (Detector, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.Features() != NumFeatures {
		return nil, fmt.Errorf("detect: model takes %d features, Features computes %d", m.Features(), NumFeatures)
	}
	return &featureDetector{m: &BuiltinModel{Model: *m}}, nil
}

type featureDetector struct{ m *BuiltinModel }

func (d *featureDetector) Score(ctx context.Context, img image.Image) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := Features(img)
	if err != nil {
		return 0, err
	}
	return d.m.Model.Probability(f)
}

func (d *featureDetector) Labels() (string, string) { return "generated", "real" }

func (d *featureDetector) Close() error { return nil }

// JPEG returns img after a round trip through Go's JPEG encoder at
// quality (1–100) and its decoder.
func JPEG(img image.Image, quality int) (image.Image, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("detect: jpeg: %w", err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		return nil, fmt.Errorf("detect: jpeg: %w", err)
	}
	return out, nil
}
