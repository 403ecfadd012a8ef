package upscale_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/upscale"
)

// A fixed-size ×4 export (32×32 → 128×128 here, a nearest-neighbour one so
// the output is predictable) upscales a 50×40 picture in overlapping 32×32
// tiles.
func ExampleUpscaler_Upscale() {
	lib, err := ortlib.Ensure(context.Background(), ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "upscale-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "model.onnx") // use a Real-ESRGAN export instead
	if err := upscaletest.Write(model, upscaletest.Config{Scale: 4, Side: 32, Nearest: true}, 1); err != nil {
		log.Fatal(err)
	}

	u, err := upscale.Open(context.Background(), model, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	h, w := u.FixedSize()
	fmt.Printf("scale %d, tiles %dx%d\n", u.Scale(), w, h)

	img := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	img.SetNRGBA(49, 39, color.NRGBA{255, 0, 0, 255})
	tiles := 0
	out, err := u.Upscale(context.Background(), img, upscale.RunOptions{Progress: func(p upscale.Progress) { tiles = p.Total }})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Bounds().Size(), tiles, "tiles", out.NRGBAAt(199, 159), out.NRGBAAt(196, 156), out.NRGBAAt(195, 156))
	// Output:
	// scale 4, tiles 32x32
	// (200,160) 4 tiles {255 0 0 255} {255 0 0 255} {0 0 0 255}
}

// A diffusion super-resolution stage (a folder of scripts/train_sr's
// layout; builtin:sr is one, random weights here) takes pictures of its
// input size only and draws its enlargement from seeded noise.
func ExampleUpscaler_Stage() {
	lib, err := ortlib.Ensure(context.Background(), ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "upscale-stage-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	stage := upscaletest.Stage{LowRes: 16, Scale: 4, Steps: 3, NoiseLevel: 20, MaxNoiseLevel: 250}
	if err := upscaletest.WriteStage(dir, stage, 1); err != nil {
		log.Fatal(err)
	}

	u, err := upscale.Open(context.Background(), dir, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	cfg, ok := u.Stage()
	fmt.Printf("stage %v: %dx%d → x%d, %d steps, noise level %d\n", ok, cfg.LowResSize, cfg.LowResSize, u.Scale(), cfg.Steps, cfg.NoiseLevel)

	level := 50
	out, err := u.Upscale(context.Background(), image.NewNRGBA(image.Rect(0, 0, 16, 16)), upscale.RunOptions{Seed: 7, NoiseLevel: &level})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Bounds().Size())
	_, err = u.Upscale(context.Background(), image.NewNRGBA(image.Rect(0, 0, 20, 16)), upscale.RunOptions{})
	fmt.Println(errors.Is(err, upscale.ErrInputSize))
	// Output:
	// stage true: 16x16 → x4, 3 steps, noise level 20
	// (64,64)
	// true
}
