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
	defer cache.Close()
	e := New(cache, Limits{})
	var steps []jobqueue.Step
	out, err := e.Run(context.Background(), jobqueue.Spec{Model: "default", Prompt: "a red circle", N: 2, Steps: 3, Seed: 1, Preview: true},
		func(s jobqueue.Step) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 2 || out.Info.Steps != 3 || out.Info.Width != 32 {
		t.Fatalf("got %d images, %d steps, %d px; want 2, 3, 32", len(out.Images), out.Info.Steps, out.Info.Width)
	}
	if len(steps) != 3 || steps[2].Step != 3 || steps[0].Preview == nil {
		t.Fatalf("progress %+v: want 3 steps with previews", steps)
	}
	if _, err := png.Decode(bytes.NewReader(steps[0].Preview)); err != nil {
		t.Fatalf("preview: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out.Images[0].Data))
	if err != nil || img.Bounds() != image.Rect(0, 0, 32, 32) {
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
		t.Fatalf("64x64 on a 32x32 model: got %v, want a bad_request RunError", err)
	}
}
