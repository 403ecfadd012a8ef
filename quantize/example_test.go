package quantize_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/quantize"
)

// ExampleCheckpoint writes a 4-bit copy of a tiny random-weight
// checkpoint; the result loads with pipeline.Load like the original.
func ExampleCheckpoint() {
	tmp, err := os.MkdirTemp("", "quantize-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src, dst := filepath.Join(tmp, "tiny-sd"), filepath.Join(tmp, "tiny-sd-q4")
	if err := onnxexport.ExportOptimum(src, onnxexport.TinySD(), onnxexport.ExportOptions{Seed: 1}); err != nil {
		log.Fatal(err)
	}
	reports, err := quantize.Checkpoint(src, dst, quantize.Options{
		Bits: 4, Components: []string{"text_encoder", "unet"},
		MinWeights: -1, // the tiny model's weights are all under the default minimum
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range reports {
		fmt.Printf("%s: %d MatMul weights in 4 bits, %.1fx smaller\n", r.Component, r.Quantized, float64(r.FloatBytes)/float64(r.PackedBytes))
	}
	_, err = os.Stat(filepath.Join(dst, "vae_decoder", "model.onnx")) // copied as it was
	fmt.Println("vae_decoder copied:", err == nil)
	// Output:
	// text_encoder: 30 MatMul weights in 4 bits, 5.4x smaller
	// unet: 50 MatMul weights in 4 bits, 6.2x smaller
	// vae_decoder copied: true
}
