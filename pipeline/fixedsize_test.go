package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/pipeline"
)

// TestFixedSizeDenoiser: a UNet whose sample input has static height and
// width (a learned position embedding) makes its own size and refuses
// another with a bad-request error naming the size it can make.
func TestFixedSizeDenoiser(t *testing.T) {
	testort.Init(t)
	cfg := onnxexport.TinySD()
	cfg.UNet.PositionEmbedding = true
	dir := filepath.Join(t.TempDir(), "fixed")
	if err := onnxexport.ExportOptimum(dir, cfg, onnxexport.ExportOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h, w := p.DefaultSize()
	res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Steps: 2, Seed: 1})
	if err != nil {
		t.Fatalf("default size %dx%d: %v", w, h, err)
	}
	if res.W != w || res.H != h {
		t.Errorf("made %dx%d, want %dx%d", res.W, res.H, w, h)
	}
	_, err = p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Steps: 2, Width: 2 * w, Height: 2 * h})
	if !errors.Is(err, pipeline.ErrBadRequest) || !strings.Contains(err.Error(), "only makes") {
		t.Fatalf("twice the size: got %v, want a bad request naming the size it makes", err)
	}
	t.Log(err)
}
