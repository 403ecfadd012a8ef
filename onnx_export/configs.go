package onnxexport

import (
	"fmt"
	"sort"
	"strings"
)

// SDConfig is the architecture of a Stable-Diffusion-style checkpoint:
// text encoder, UNet and VAE.
type SDConfig struct {
	Name string
	Text CLIPTextConfig
	// Text2 is SDXL's second text encoder (text_encoder_2, tokenizer_2);
	// NumLayers 0 means none.
	Text2 CLIPTextConfig
	UNet  UNetConfig
	VAE   VAEConfig
}

// SD15 is Stable Diffusion 1.5 at full size: UNet 320/640/1280/1280 with
// two layers per block and 8 heads, CLIP ViT-L/14 text encoder (12 layers,
// 768 wide), VAE 128/256/512/512.
func SD15() SDConfig {
	return SDConfig{
		Name: "sd15",
		Text: CLIPTextConfig{
			VocabSize: 49408, HiddenSize: 768, IntermediateSize: 3072, NumLayers: 12, NumHeads: 12,
			MaxPositionEmbeddings: 77, HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
			BOSTokenID: 49406, EOSTokenID: 49407,
		},
		UNet: UNetConfig{
			InChannels: 4, OutChannels: 4, SampleSize: 64,
			BlockOutChannels: []int64{320, 640, 1280, 1280},
			DownBlockTypes:   []string{CrossAttnDownBlock2D, CrossAttnDownBlock2D, CrossAttnDownBlock2D, DownBlock2D},
			UpBlockTypes:     []string{UpBlock2D, CrossAttnUpBlock2D, CrossAttnUpBlock2D, CrossAttnUpBlock2D},
			LayersPerBlock:   2, AttentionHeads: []int64{8}, CrossAttentionDim: 768,
			NormGroups: 32, NormEps: 1e-5, FlipSinToCos: true,
		},
		VAE: VAEConfig{
			InChannels: 3, OutChannels: 3, LatentChannels: 4,
			BlockOutChannels: []int64{128, 256, 512, 512}, LayersPerBlock: 2,
			NormGroups: 32, SampleSize: 512, ScalingFactor: 0.18215,
		},
	}
}

// SD21 is Stable Diffusion 2.1 at the 512x512 size of SD 2.1-base and
// SD-Turbo: the SD 1.5 UNet layout with 64-wide heads (5/10/20/20 per
// level), linear projections into and out of its transformers and
// 1024-wide cross-attention, the OpenCLIP ViT-H text encoder (23 of its 24
// layers, 1024 wide, GELU) and the SD 1.5 VAE.
func SD21() SDConfig {
	c := SD15()
	c.Name = "sd21"
	c.Text = CLIPTextConfig{
		VocabSize: 49408, HiddenSize: 1024, IntermediateSize: 4096, NumLayers: 23, NumHeads: 16,
		MaxPositionEmbeddings: 77, HiddenAct: "gelu", LayerNormEps: 1e-5,
		BOSTokenID: 49406, EOSTokenID: 49407,
	}
	c.UNet.AttentionHeads = []int64{5, 10, 20, 20}
	c.UNet.CrossAttentionDim = 1024
	c.UNet.LinearProjection = true
	return c
}

// TinySD is a few-megabyte SD-1.x-layout model for tests: the same
// architecture as the sd1-tiny conformance checkpoint (UNet 32/64, CLIP 32
// wide with 5 layers, VAE 32/64), with a byte-level tokenizer vocabulary.
func TinySD() SDConfig {
	return SDConfig{
		Name: "tiny-sd",
		Text: CLIPTextConfig{
			VocabSize: TinyVocabSize(), HiddenSize: 32, IntermediateSize: 37, NumLayers: 5, NumHeads: 4,
			MaxPositionEmbeddings: 77, HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
			BOSTokenID: TinyVocabSize() - 2, EOSTokenID: TinyVocabSize() - 1,
		},
		UNet: UNetConfig{
			InChannels: 4, OutChannels: 4, SampleSize: 16,
			BlockOutChannels: []int64{32, 64},
			DownBlockTypes:   []string{CrossAttnDownBlock2D, DownBlock2D},
			UpBlockTypes:     []string{UpBlock2D, CrossAttnUpBlock2D},
			LayersPerBlock:   1, AttentionHeads: []int64{8}, CrossAttentionDim: 32,
			NormGroups: 8, NormEps: 1e-5, FlipSinToCos: true,
		},
		VAE: VAEConfig{
			InChannels: 3, OutChannels: 3, LatentChannels: 4,
			BlockOutChannels: []int64{32, 64}, LayersPerBlock: 1,
			NormGroups: 8, SampleSize: 32, ScalingFactor: 0.18215,
		},
	}
}

// archs is the immutable registry behind ArchByName.
var archs = map[string]func() SDConfig{"sd15": SD15, "sd21": SD21, "tiny-sd": TinySD}

// ErrUnknownArch is returned (wrapped) by ArchByName.
var ErrUnknownArch = fmt.Errorf("unknown architecture")

// ArchNames lists the architectures ArchByName knows, sorted.
func ArchNames() []string {
	var names []string
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ArchByName returns the named architecture ("sd15", "sd21", "tiny-sd").
func ArchByName(name string) (SDConfig, error) {
	f, ok := archs[name]
	if !ok {
		return SDConfig{}, fmt.Errorf("onnxexport: %w %q (known: %s)", ErrUnknownArch, name, strings.Join(ArchNames(), ", "))
	}
	return f(), nil
}
