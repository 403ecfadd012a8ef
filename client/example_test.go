package client_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/imagegen/imagegen/client"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/server"
)

// startServer runs a server whose jobs draw a grey picture in 4 steps, in
// place of a model.
func startServer() (*httptest.Server, func()) {
	run := func(ctx context.Context, s jobqueue.Spec, progress func(jobqueue.Step)) (*jobqueue.Output, error) {
		for i := 1; i <= 4; i++ {
			time.Sleep(time.Millisecond)
			progress(jobqueue.Step{Step: i, Total: 4})
		}
		var buf bytes.Buffer
		png.Encode(&buf, image.NewGray(image.Rect(0, 0, 32, 32)))
		return &jobqueue.Output{Images: []jobqueue.Image{{ContentType: "image/png", Data: buf.Bytes()}},
			Info: jobqueue.Info{Model: s.Model, Width: 32, Height: 32, Steps: 4, Seed: s.Seed}}, nil
	}
	q := jobqueue.NewMemory(run, jobqueue.MemoryOptions{})
	srv, _ := server.New(server.Options{Queue: q, Models: []server.ModelInfo{{Name: "default"}}, APIKey: "secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(srv.Handler())
	return ts, func() { ts.Close(); q.Close(context.Background()) }
}

func Example() {
	ts, stop := startServer()
	defer stop()
	ctx := context.Background()

	c := client.New(ts.URL, "secret")
	seed := uint64(42)
	job, err := c.Submit(ctx, client.JobRequest{Model: "default", Prompt: "a red circle", Seed: &seed})
	if err != nil {
		fmt.Println(err)
		return
	}
	job, err = c.Wait(ctx, job.ID, func(s client.Step) { fmt.Printf("step %d/%d\n", s.Step, s.TotalSteps) })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.Status, "seed", job.Info.Seed)
	pic, err := c.Download(ctx, job.Results[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	img, _ := png.Decode(bytes.NewReader(pic))
	fmt.Println(img.Bounds().Size())

	_, err = c.Submit(ctx, client.JobRequest{Model: "no-such-model", Prompt: "x"})
	fmt.Println(err)
	// Output:
	// step 1/4
	// step 2/4
	// step 3/4
	// step 4/4
	// succeeded seed 42
	// (32,32)
	// imagegen server: 404 model_not_found: the model "no-such-model" does not exist on this server (GET /v1/models lists them)
}
