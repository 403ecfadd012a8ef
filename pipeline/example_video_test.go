package pipeline_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/videoio"
)

// Image-to-video with a Stable Video Diffusion checkpoint (here a tiny
// random-weight stand-in in the public ONNX layout): the first frame
// conditions the clip, Result.Images holds its frames, and videoio writes
// them as an animated GIF.
func ExamplePipeline_Generate_video() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "imagegen-video-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "svd")
	if err := familytest.WriteSVD(dir, 1); err != nil {
		log.Fatal(err)
	}
	pipe, err := pipeline.Load(ctx, dir, pipeline.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()

	first := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			first.Set(x, y, color.NRGBA{uint8(8 * x), uint8(8 * y), 128, 255})
		}
	}
	motion := 100
	res, err := pipe.Generate(ctx, pipeline.Request{InitImage: first, Steps: 4, Seed: 7, FPS: 6, MotionBucket: &motion, DecodeChunk: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d clip of %d frames, %dx%d at %g fps\n", res.ModelFamily, res.N, res.Frames, res.W, res.H, res.FPS)

	out := filepath.Join(tmp, "clip.gif")
	clip := videoio.Clip{Frames: res.Images, F: res.Frames, H: res.H, W: res.W, FPS: res.FPS}
	if err := videoio.Write(out, clip); err != nil {
		log.Fatal(err)
	}
	_, err = os.Stat(out)
	fmt.Println("clip.gif written:", err == nil)
	// Output:
	// svd: 1 clip of 4 frames, 32x32 at 6 fps
	// clip.gif written: true
}
