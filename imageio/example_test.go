package imageio_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/imagegen/imagegen/imageio"
)

func ExampleGenerationParams_Infotext() {
	p := imageio.GenerationParams{
		Prompt: "a red circle above a blue square", NegativePrompt: "blurry",
		Steps: 20, Sampler: "Euler", CFGScale: 7.5, Seed: 1234, Width: 512, Height: 512, Model: "sd15",
	}
	fmt.Println(p.Infotext())
	// Output:
	// a red circle above a blue square
	// Negative prompt: blurry
	// Steps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 1234, Size: 512x512, Model: sd15
}

func ExampleEncodePNG() {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	meta := imageio.Metadata{Parameters: "a cat\nSteps: 1", JSON: `{"seed":1}`}
	if err := imageio.EncodePNG(&buf, img, meta); err != nil {
		log.Fatal(err)
	}
	text, err := imageio.DecodePNGText(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n%s\n", text["parameters"], text["imagegen"])
	// Output:
	// "a cat\nSteps: 1"
	// {"seed":1}
}

// VAE output in [-1, 1] becomes bytes the way diffusers' PIL output does.
func ExampleToNRGBA() {
	vae := []float32{-1, 0, 1} // one pixel, NCHW [1, 3, 1, 1]
	imgs, err := imageio.ToNRGBA(vae, []int{1, 3, 1, 1}, imageio.NCHW, imageio.Signed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(imgs[0].NRGBAAt(0, 0))
	// Output: {0 128 255 255}
}

func ExampleWriteNPY() {
	var buf bytes.Buffer
	if err := imageio.WriteNPY(&buf, []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		log.Fatal(err)
	}
	shape, data, err := imageio.ReadNPY(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, data)
	// Output: [2 2] [1 2 3 4]
}

// A half-transparent pixel keeps its colour (alpha is dropped, not
// composited) and a grey one fills all three channels; values are in
// [0, 1], channel-major.
func ExampleRGBTensor() {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{255, 51, 0, 128})
	img.SetNRGBA(1, 0, color.NRGBA{102, 102, 102, 255})
	fmt.Println(imageio.RGBTensor(img))
	// Output: [1 0.4 0.2 0.4 0 0.4]
}
