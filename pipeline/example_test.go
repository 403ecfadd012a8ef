package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
)

// Example embeds text-to-image in a Go program. It exports a tiny
// random-weight checkpoint first so that it runs anywhere; point Load at a
// real Optimum export instead.
func Example() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{}) // finds or installs ONNX Runtime
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}

	tmp, err := os.MkdirTemp("", "imagegen-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "tiny-sd")
	if err := onnxexport.ExportOptimum(dir, onnxexport.TinySD(), onnxexport.ExportOptions{Seed: 1}); err != nil {
		log.Fatal(err)
	}

	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()
	res, err := pipe.Generate(ctx, pipeline.Request{
		Prompts:   []string{"a red circle above a blue square"},
		Scheduler: "DPM++ 2M Karras",
		Steps:     4,
		Seed:      42,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pipe.Family(), res.N, "image of", res.W, "x", res.H, "with", res.Scheduler)
	// Output: sd 1 image of 32 x 32 with DPMSolverMultistepScheduler
}
