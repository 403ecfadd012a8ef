package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/modelcache"
	"github.com/imagegen/imagegen/pipeline"
)

func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	e := New(nil, Limits{})
	ok := jobqueue.Spec{Model: "m", Prompt: "x", N: 1}
	for _, tc := range []struct {
		name   string
		modify func(*jobqueue.Spec)
	}{
		{"no model", func(s *jobqueue.Spec) { s.Model = "" }},
		{"n over limit", func(s *jobqueue.Spec) { s.N = 11 }},
		{"long prompt", func(s *jobqueue.Spec) { s.Prompt = string(make([]byte, 1<<20)) }},
		{"huge size", func(s *jobqueue.Spec) { s.Width, s.Height = 100000, 100000 }},
		{"huge init image", func(s *jobqueue.Spec) { s.InitImage = hugePNGHeader() }},
		{"garbage init image", func(s *jobqueue.Spec) { s.InitImage = []byte("not a picture") }},
		{"mask without image", func(s *jobqueue.Spec) { s.Mask = []byte("x") }},
		{"bad format", func(s *jobqueue.Spec) { s.Format = "gif" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.modify(&s)
			var re *jobqueue.RunError
			if err := e.Check(&s); !errors.As(err, &re) || re.Kind != "bad_request" {
				t.Fatalf("got %v, want a bad_request RunError", err)
			}
		})
	}
	if err := e.Check(&ok); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
}

// TestRunBuiltin runs the built-in model through the cache and engine, as
// the server does.
func TestRunBuiltin(t *testing.T) {
	cache := builtinCache(t)
	e := New(cache, Limits{})
	var steps []jobqueue.Step
	out, err := e.Run(context.Background(), jobqueue.Spec{Model: "default", Prompt: "a red circle", N: 2, Steps: 3, Seed: 1, Preview: true},
		func(s jobqueue.Step) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	// 128x128: the model's 32x32 pictures enlarged by its cascade stage.
	if len(out.Images) != 2 || out.Info.Steps != 3 || out.Info.Width != 128 {
		t.Fatalf("got %d images, %d steps, %d px; want 2, 3, 128", len(out.Images), out.Info.Steps, out.Info.Width)
	}
	if len(steps) != 3 || steps[2].Step != 3 || steps[0].Preview == nil {
		t.Fatalf("progress %+v: want 3 steps with previews", steps)
	}
	if _, err := png.Decode(bytes.NewReader(steps[0].Preview)); err != nil {
		t.Fatalf("preview: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out.Images[0].Data))
	if err != nil || img.Bounds() != image.Rect(0, 0, 128, 128) {
		t.Fatalf("picture: %v %v", err, img)
	}

	// JPEG output, and img2img from the first picture.
	out, err = e.Run(context.Background(), jobqueue.Spec{Model: "default", Prompt: "a blue star", Steps: 4, Format: "jpeg",
		InitImage: out.Images[0].Data, Strength: 0.5}, func(jobqueue.Step) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(out.Images[0].Data)); err != nil || out.Images[0].ContentType != "image/jpeg" {
		t.Fatalf("jpeg output: %v, %s", err, out.Images[0].ContentType)
	}

	// Cancellation stops the run.
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	_, err = e.Run(ctx, jobqueue.Spec{Model: "default", Prompt: "x", Steps: 150}, func(s jobqueue.Step) {
		if s.Step == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled run took %v", d)
	}

	// A bad size reaches the pipeline and comes back as a bad request.
	var re *jobqueue.RunError
	if _, err := e.Run(context.Background(), jobqueue.Spec{Model: "default", Prompt: "x", Width: 64, Height: 64, Steps: 1}, func(jobqueue.Step) {}); !errors.As(err, &re) || re.Kind != "bad_request" {
		t.Fatalf("64x64 on a 32x32 model with a 128x128 cascade: got %v, want a bad_request RunError", err)
	}
}

// TestRunBatchSamePictures checks that jobs run in one batch get the
// pictures (and seeds) of their runs alone, and that a job failing Check
// fails alone.
func TestRunBatchSamePictures(t *testing.T) {
	cache := builtinCache(t)
	e := New(cache, Limits{})
	specs := []jobqueue.Spec{
		{Model: "default", Prompt: "a red circle", N: 2, Steps: 3, Seed: 1, Scheduler: "EulerAncestralDiscreteScheduler"},
		{Model: "default", Prompt: "a blue star", N: 2, Steps: 3, Seed: 9, Scheduler: "EulerAncestralDiscreteScheduler", Format: "jpeg"},
		{Model: "default", Prompt: "x", N: 99, Steps: 3, Scheduler: "EulerAncestralDiscreteScheduler"},
	}
	if e.BatchKey(specs[0]) != e.BatchKey(specs[1]) || e.BatchKey(specs[0]) == e.BatchKey(jobqueue.Spec{Model: "default", N: 2, Steps: 4}) {
		t.Fatal("batch keys do not group by shape")
	}
	steps := make([]int, len(specs))
	outs, errs := e.RunBatch(context.Background(), specs, func(i int, s jobqueue.Step) { steps[i] = s.Step })
	var re *jobqueue.RunError
	if !errors.As(errs[2], &re) || re.Kind != "bad_request" || outs[2] != nil {
		t.Fatalf("job over the limits: got %v, want its own bad_request", errs[2])
	}
	for i, s := range specs[:2] {
		if errs[i] != nil || steps[i] != 3 {
			t.Fatalf("job %d: %v, %d steps", i, errs[i], steps[i])
		}
		alone, err := e.Run(context.Background(), s, func(jobqueue.Step) {})
		if err != nil {
			t.Fatal(err)
		}
		if outs[i].Info.Seed != s.Seed || len(outs[i].Images) != 2 {
			t.Fatalf("job %d: seed %d, %d images; want %d, 2", i, outs[i].Info.Seed, len(outs[i].Images), s.Seed)
		}
		for k := range alone.Images {
			a, _, err1 := image.Decode(bytes.NewReader(alone.Images[k].Data))
			b, _, err2 := image.Decode(bytes.NewReader(outs[i].Images[k].Data))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if d := maxDiff(a, b); d > 2 {
				t.Errorf("job %d picture %d differs from its run alone by up to %d levels", i, k, d)
			}
		}
	}
}

// maxDiff is the largest difference of two same-size pictures' 8-bit
// channels.
func maxDiff(a, b image.Image) int {
	worst := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				worst = max(worst, d, -d)
			}
		}
	}
	return worst
}

// builtinCache serves the built-in model (written into a temporary cache)
// under every name; it closes when the test ends.
func builtinCache(t *testing.T) *modelcache.Cache[*Model] {
	t.Helper()
	testort.Init(t)
	dir, err := defaultmodel.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cache := modelcache.New(func(ctx context.Context, name string) (*Model, error) {
		p, err := pipeline.Load(ctx, dir, pipeline.Options{})
		if err != nil {
			return nil, err
		}
		return &Model{Name: name, Pipeline: p, Defaults: defaultmodel.Defaults()}, nil
	}, modelcache.Options{})
	t.Cleanup(func() { cache.Close() })
	return cache
}
