package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log"
	"os"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// Example_pixelCNN samples an autoregressive family pixel by pixel at a
// chosen temperature and guidance scale, and scores a picture's exact
// likelihood. It writes a tiny PixelCNN checkpoint first; the shipped one
// is builtin:pixelcnn.
func Example_pixelCNN() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "imagegen-pixelcnn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := familytest.WritePixelCNN(dir, 1); err != nil {
		log.Fatal(err)
	}
	p, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	temperature, guidance := 0.8, 2.0
	res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Temperature: temperature, Guidance: &guidance, Seed: 7})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, %s sampler: %d model runs for a %dx%d picture, temperature %v, guidance %v\n",
		res.ModelFamily, res.Scheduler, res.DenoiserCalls, res.W, res.H, res.Temperature, res.Guidance)

	_, err = p.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Temperature: -1})
	fmt.Println(errors.Is(err, pipeline.ErrBadRequest), err)

	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(0)
	if err != nil {
		log.Fatal(err)
	}
	lik, err := p.Likelihood(ctx, pipeline.LikelihoodRequest{Images: []image.Image{s.Image}, Prompts: []string{s.Caption}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exact likelihood:", lik.Exact, lik.ELBOBitsPerDim == lik.IWAEBitsPerDim)
	// Output:
	// pixelcnn, cached sampler: 3104 model runs for a 32x32 picture, temperature 0.8, guidance 2
	// true pipeline: bad request: temperature must be a finite number > 0, got -1
	// exact likelihood: true true
}
