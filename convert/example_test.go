package convert_test

import (
	"fmt"

	"github.com/imagegen/imagegen/convert"
)

// DetectFamily tells single-file layouts apart by their text encoders'
// keys.
func ExampleDetectFamily() {
	for _, keys := range [][]string{
		{"model.diffusion_model.out.2.weight", "cond_stage_model.transformer.text_model.final_layer_norm.weight"},
		{"model.diffusion_model.out.2.weight", "cond_stage_model.model.ln_final.weight"},
		{"model.diffusion_model.out.2.weight", "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
			"conditioner.embedders.1.model.ln_final.weight"},
		{"conditioner.embedders.0.model.ln_final.weight"},
	} {
		family, err := convert.DetectFamily(keys)
		fmt.Printf("%q error: %v\n", family, err != nil)
	}
	// Output:
	// "sd1" error: false
	// "sd2" error: false
	// "sdxl" error: false
	// "" error: true
}
