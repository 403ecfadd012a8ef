package detect

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBuiltinModel: any bytes give a model or an error, never a
// panic, and a model that parses scores a feature vector in [0, 1].
func FuzzParseBuiltinModel(f *testing.F) {
	f.Add(builtinJSON)
	f.Add([]byte(`{"model": {"mean": [0], "std": [1], "w2": [1], "b2": 0}}`))
	f.Add([]byte(`{"model": {"mean": [0], "std": [1], "w1": [[1]], "b1": [0], "w2": [1, 2], "b2": 0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseBuiltinModel(data)
		if err != nil {
			return
		}
		p, err := m.Model.Probability(make([]float64, NumFeatures))
		if err != nil || p < 0 || p > 1 {
			t.Errorf("parsed model scores %v, %v", p, err)
		}
	})
}

// FuzzReadPreprocess: any preprocessor_config.json gives an error or a
// preprocessing that fills a 3x8x8 input from a 5x3 picture.
func FuzzReadPreprocess(f *testing.F) {
	f.Add(`{"size": {"height": 8, "width": 8}, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}`)
	f.Add(`{"size": {"shortest_edge": 12}, "do_center_crop": true, "crop_size": 8, "resample": 3}`)
	f.Add(`{"size": 4, "do_rescale": false, "do_normalize": false}`)
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "preprocessor_config.json")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := readPreprocess(path)
		if err != nil {
			return
		}
		if got := p.tensor(solid(5, 3, colorGray), 8, 8); len(got) != 3*8*8 {
			t.Errorf("got %d values, want %d", len(got), 3*8*8)
		}
	})
}
