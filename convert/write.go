package convert

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Options configure Write.
type Options struct {
	// Float16 stores the weights as float16 (computation stays float32).
	Float16 bool
	// Progress is told what is being built or written (see
	// onnxexport.ExportOptions.Progress).
	Progress func(stage string, done, total int64)
}

// Write builds the checkpoint's graphs with its weights and writes them to
// out as an Optimum folder (text_encoder, unet, vae_encoder, vae_decoder,
// tokenizer, scheduler, model_index.json). out must not exist; it is
// written under a temporary name and renamed into place, so a failed
// conversion leaves nothing behind.
func Write(ck *Checkpoint, out string, opts Options) error {
	for _, c := range []string{"unet", "vae", "text_encoder"} {
		if ck.Weights[c] == nil {
			return fmt.Errorf("convert: write %s: no %s weights", out, c)
		}
	}
	weights := map[string]map[string]*onnxexport.Tensor{
		"unet": ck.Weights["unet"], "text_encoder": ck.Weights["text_encoder"],
		"vae_encoder": ck.Weights["vae"], "vae_decoder": ck.Weights["vae"],
	}
	if ck.Config.Text2.NumLayers > 0 {
		if ck.Weights["text_encoder_2"] == nil {
			return fmt.Errorf("convert: write %s: no text_encoder_2 weights", out)
		}
		weights["text_encoder_2"] = ck.Weights["text_encoder_2"]
	}
	err := onnxexport.ExportOptimum(out, ck.Config, onnxexport.ExportOptions{
		Float16Weights: opts.Float16, Progress: opts.Progress, Files: ck.Files, Weights: weights,
	})
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	return nil
}
