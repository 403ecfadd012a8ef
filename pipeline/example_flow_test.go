package pipeline_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// A flow maps a picture to its latent and back exactly, and generates at
// a temperature (here a tiny stand-in checkpoint; builtin:flow is the
// trained one).
func ExamplePipeline_EncodeLatents() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "imagegen-flow-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "flow")
	if err := familytest.WriteFlow(dir, 1); err != nil {
		log.Fatal(err)
	}
	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()

	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(0)
	if err != nil {
		log.Fatal(err)
	}
	prompts := []string{s.Caption}
	lat, err := pipe.EncodeLatents(ctx, []image.Image{s.Image}, prompts)
	if err != nil {
		log.Fatal(err)
	}
	back, err := pipe.DecodeLatents(ctx, lat.Values, lat.Shape, prompts)
	if err != nil {
		log.Fatal(err)
	}
	worst := 0.0
	for y := range 32 {
		for x := range 32 {
			for c := range 3 {
				want := float64(s.Image.Pix[y*s.Image.Stride+4*x+c]) / 255
				worst = math.Max(worst, math.Abs(float64(back.Images[(y*32+x)*3+c])-want))
			}
		}
	}
	fmt.Println("latent shape:", lat.Shape)
	fmt.Println("round trip within 1e-4:", worst < 1e-4)

	res, err := pipe.Generate(ctx, pipeline.Request{Prompts: []string{"a red circle"}, Temperature: 0.7, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d picture of %dx%d\n", res.N, res.W, res.H)
	// Output:
	// latent shape: [1 3072]
	// round trip within 1e-4: true
	// 1 picture of 32x32
}
