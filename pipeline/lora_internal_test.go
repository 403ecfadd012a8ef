package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/safetensors"
)

// TestSetLoRAsRebuildsOnlyChanged: a text-encoder LoRA reopens the text
// encoder's session and leaves the UNet's and the VAE's as they were.
func TestSetLoRAsRebuildsOnlyChanged(t *testing.T) {
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	p, err := Load(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := p.impl.(*diffusionPipeline)
	unet, vae, te := d.denoiser, d.vaeDec, d.encoders[0].sess
	path := filepath.Join(t.TempDir(), "te.safetensors")
	key := "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
	if err := safetensors.WriteFile(path, map[string]safetensors.Tensor{
		key + ".lora_up.weight":   {Shape: []int64{32, 2}, Data: make([]float32, 64)},
		key + ".lora_down.weight": {Shape: []int64{2, 32}, Data: make([]float32, 64)},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.SetLoRAs([]LoRA{{Path: path, Scale: 1}}); err != nil {
		t.Fatal(err)
	}
	if d.denoiser != unet || d.vaeDec != vae {
		t.Error("a text-encoder LoRA reopened the UNet or the VAE")
	}
	if d.encoders[0].sess == te {
		t.Error("the text encoder was not reopened with the LoRA")
	}
	te = d.encoders[0].sess
	if err := p.SetLoRAs([]LoRA{{Path: path, Scale: 1}}); err != nil {
		t.Fatal(err)
	}
	if d.encoders[0].sess != te {
		t.Error("the same LoRAs again reopened the text encoder")
	}
	if err := p.SetLoRAs(nil); err != nil {
		t.Fatal(err)
	}
	if d.encoders[0].sess == te || d.denoiser != unet {
		t.Error("removing the LoRA: want the text encoder reopened and the UNet kept")
	}
}
