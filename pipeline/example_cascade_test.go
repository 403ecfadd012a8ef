package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
)

// ExamplePipeline_Cascade runs the built-in model, whose model_index.json
// declares a super-resolution cascade: without a size a request gets its
// 32x32 picture enlarged by builtin:sr; 32x32 runs the model alone.
func ExamplePipeline_Cascade() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	cache, err := os.MkdirTemp("", "imagegen-cascade-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(cache)
	dir, err := defaultmodel.Dir(cache)
	if err != nil {
		log.Fatal(err)
	}
	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()
	c := pipe.Cascade()
	fmt.Printf("cascade: %s on %dx%d\n", c.Stage, c.Width, c.Height)

	req := pipeline.Request{Prompts: []string{"a red circle above a blue square"}, Steps: 4}
	res, err := pipe.Generate(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d from %dx%d by %s (x%d, %d steps)\n", res.W, res.H, res.Stage.BaseWidth, res.Stage.BaseHeight, res.Stage.Model, res.Stage.Scale, res.Stage.Steps)

	req.Height, req.Width = 32, 32
	if res, err = pipe.Generate(ctx, req); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d, stage %v\n", res.W, res.H, res.Stage)
	// Output:
	// cascade: builtin:sr on 32x32
	// 128x128 from 32x32 by builtin:sr (x4, 4 steps)
	// 32x32, stage <nil>
}
