package pipeline

import (
	"context"
	"math"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
)

// TestEncodeChunkedEmphasis checks the weighted encoding of one prompt
// against the plain encoding of the same words, scaled by hand: the token
// rows times their weights, then the whole times (mean before / mean after).
func TestEncodeChunkedEmphasis(t *testing.T) {
	testort.Init(t)
	pl, err := loadDiffusion(context.Background(), conformance.Dir(t, "sd1-tiny"), FamilySD, &modelIndex{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.close()
	te := pl.(*diffusionPipeline).encoders[0]
	got, err := te.encodeChunked(context.Background(), "a (red:1.3) [cat] sitting", lastHidden, noPooled)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := te.encode(context.Background(), "a red cat sitting", 77, lastHidden, noPooled)
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != 77 || plain.seq != 77 {
		t.Fatalf("seq %d and %d, want 77", got.seq, plain.seq)
	}
	// Tokens: <start> a red cat sitting <end> ...: red is token 2, cat 3.
	weights := make([]float64, 77)
	for i := range weights {
		weights[i] = 1
	}
	weights[2], weights[3] = 1.3, 1/1.1
	var before, after float64
	want := make([]float64, len(plain.hidden))
	for i, v := range plain.hidden {
		before += float64(v)
		want[i] = float64(v) * float64(float32(weights[i/plain.dim]))
		after += want[i]
	}
	for i := range want {
		want[i] *= before / after
		if d := math.Abs(float64(got.hidden[i]) - want[i]); d > 1e-5*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("hidden[%d] = %v, want %v", i, got.hidden[i], want[i])
		}
	}
}
