package onnxexport

import (
	"os"
	"testing"
)

// TestSD15ParamCounts builds the full-size SD 1.5 graphs and compares their
// parameter counts with diffusers'/transformers' published model sizes. It
// allocates about 4.3 GB, so it runs only when IMAGEGEN_TEST_SD15=1.
func TestSD15ParamCounts(t *testing.T) {
	if os.Getenv("IMAGEGEN_TEST_SD15") != "1" {
		t.Skip("set IMAGEGEN_TEST_SD15=1 to build the full-size SD 1.5 graphs (4.3 GB)")
	}
	cfg := SD15()
	for _, tc := range []struct {
		name  string
		build func() *Builder
		want  int64
	}{
		{"unet", func() *Builder { return NewUNetGraph(cfg.UNet, 1) }, 859_520_964},
		{"text_encoder", func() *Builder { return NewCLIPTextGraph(cfg.Text, 1) }, 123_060_480},
		// The encoder graph includes quant_conv (8·8+8 = 72 parameters).
		{"vae_encoder", func() *Builder { return NewVAEEncoderGraph(cfg.VAE, 1) }, 34_163_592 + 72},
		{"vae_decoder", func() *Builder { return NewVAEDecoderGraph(cfg.VAE, 1) }, 49_490_199},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build()
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if got := b.NumParams(); got != tc.want {
				t.Errorf("%d parameters, want %d", got, tc.want)
			}
		})
	}
}
