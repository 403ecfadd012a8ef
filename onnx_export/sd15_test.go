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

// TestSD21Config checks the SD 2.1 architecture against its diffusers
// configuration: 64-wide heads at every level, 1024-wide cross-attention
// fed by a 1024-wide text encoder, and a valid UNet.
func TestSD21Config(t *testing.T) {
	c, err := ArchByName("sd21")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UNet.Validate(); err != nil {
		t.Fatal(err)
	}
	for level, ch := range c.UNet.BlockOutChannels {
		if d := ch / c.UNet.heads(level); d != 64 {
			t.Errorf("level %d: head width %d, want 64", level, d)
		}
	}
	if c.UNet.CrossAttentionDim != c.Text.HiddenSize || c.Text.HiddenSize != 1024 || !c.UNet.LinearProjection {
		t.Errorf("cross-attention %d, text width %d, linear projection %v; want 1024, 1024, true",
			c.UNet.CrossAttentionDim, c.Text.HiddenSize, c.UNet.LinearProjection)
	}
	if sd15 := SD15(); c.VAE.ScalingFactor != sd15.VAE.ScalingFactor || len(c.VAE.BlockOutChannels) != 4 {
		t.Errorf("VAE %+v, want SD 1.5's", c.VAE)
	}
}
