package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/modelcache"
	"github.com/imagegen/imagegen/pipeline"
)

// The engine returns pictures: a video model is refused with a clear
// not_supported error instead of clips cut into frames.
func TestRunRefusesVideoModel(t *testing.T) {
	testort.Init(t)
	dir := t.TempDir()
	if err := familytest.WriteSVD(dir, 1); err != nil {
		t.Fatal(err)
	}
	cache := modelcache.New(func(ctx context.Context, name string) (*Model, error) {
		p, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if err != nil {
			return nil, err
		}
		return &Model{Name: name, Pipeline: p}, nil
	}, modelcache.Options{})
	t.Cleanup(func() { cache.Close() })
	_, err := New(cache, Limits{}).Run(context.Background(), jobqueue.Spec{Model: "svd", Prompt: "x", Steps: 1}, func(jobqueue.Step) {})
	var re *jobqueue.RunError
	if !errors.As(err, &re) || re.Kind != "not_supported" || !strings.Contains(err.Error(), "video model") {
		t.Fatalf("got %v, want a not_supported RunError naming the video model", err)
	}
}
