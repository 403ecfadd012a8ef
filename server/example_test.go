package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/server"
)

// A server is a queue, the model names clients may use and options. A real
// program passes engine.Engine.Run as the queue's runner (see `imagegen
// serve`); here a stand-in fails every job.
func Example() {
	run := func(ctx context.Context, s jobqueue.Spec, progress func(jobqueue.Step)) (*jobqueue.Output, error) {
		return nil, &jobqueue.RunError{Kind: "bad_request", Err: fmt.Errorf("no model in this example")}
	}
	q := jobqueue.NewMemory(run, jobqueue.MemoryOptions{MaxWaiting: 4})
	defer q.Close(context.Background())
	srv, err := server.New(server.Options{
		Queue:  q,
		Models: []server.ModelInfo{{Name: "default", Family: "sd1"}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler()) // or srv.Serve(ctx, listener, grace)
	defer ts.Close()

	resp, err := http.Post(ts.URL+"/v1/images/generations", "application/json",
		strings.NewReader(`{"model": "default", "prompt": "a red circle", "size": "32x32"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	// Output:
	// 400 {"error":{"code":"invalid_value","message":"no model in this example","param":null,"type":"invalid_request_error"}}
}
