package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
)

// ExampleRequest_truncation draws from a GAN with the truncation trick:
// the noise is scaled by ψ toward its mean. A tiny random-weight GAN
// folder stands in for builtin:gan.
func ExampleRequest_truncation() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "imagegen-gan-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := familytest.WriteGAN(dir, 1); err != nil {
		log.Fatal(err)
	}
	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()
	full, err := pipe.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Seed: 5})
	if err != nil {
		log.Fatal(err)
	}
	half, err := pipe.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Seed: 5, Truncation: 0.5})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pipe.Family(), half.N, "image of", half.W, "x", half.H)
	fmt.Println("z scaled by ψ:", half.Latents[0] == 0.5*full.Latents[0])
	_, err = pipe.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Truncation: 2})
	fmt.Println(err)
	// Output:
	// gan 1 image of 32 x 32
	// z scaled by ψ: true
	// pipeline: bad request: truncation must be in (0, 1], got 2
}
