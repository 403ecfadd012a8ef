package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// imageSize is the side of the pictures the model draws, and stem the
// side of the space-to-depth blocks: the UNet body works on
// 32/stem x 32/stem cells of 3·stem² channels.
const (
	imageSize     = 32
	stem          = 2
	bodySize      = imageSize / stem
	bodyChannels  = 3 * stem * stem
	contextLength = 32 // the frozen text encoder's positions (builtin:default's)
	textWidth     = 128
)

// unetConfig is the UNet body: builtin:default's UNet (32/64/128 channels
// at 16/8/4 cells, cross-attention on every level, the attention-pooled
// prompt in the time embedding, a learned position embedding), with 12
// input and output channels: the 2x2 space-to-depth cells of the picture
// instead of the VAE's 4 latent channels. Every other tensor has the
// default model's shape, so the body starts from its trained weights.
func unetConfig() onnxexport.UNetConfig {
	return onnxexport.UNetConfig{
		InChannels: bodyChannels, OutChannels: bodyChannels, SampleSize: bodySize,
		BlockOutChannels: []int64{32, 64, 128},
		DownBlockTypes:   []string{onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:     []string{onnxexport.CrossAttnUpBlock2D, onnxexport.CrossAttnUpBlock2D, onnxexport.CrossAttnUpBlock2D},
		LayersPerBlock:   1, AttentionHeads: []int64{4}, CrossAttentionDim: textWidth,
		NormGroups: 16, NormEps: 1e-5, FlipSinToCos: true, TextTimeHeads: 4,
		PositionEmbedding: true,
	}
}

// spaceToDepth rearranges [B,3,32,32] into [B,12,16,16] (channel c·4 +
// dy·2 + dx holds pixel (2y+dy, 2x+dx) of color c), as ONNX's
// SpaceToDepth in CRD order, written as Reshape and Transpose so the
// autodiff needs no new rule.
func spaceToDepth(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	x = b.Reshape(x, -1, 3, bodySize, stem, bodySize, stem)
	x = b.Transpose(x, 0, 1, 3, 5, 2, 4)
	return b.Reshape(x, -1, bodyChannels, bodySize, bodySize)
}

// depthToSpace is the inverse of spaceToDepth.
func depthToSpace(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	x = b.Reshape(x, -1, 3, stem, stem, bodySize, bodySize)
	x = b.Transpose(x, 0, 1, 4, 2, 5, 3)
	return b.Reshape(x, -1, 3, imageSize, imageSize)
}

// pixelUNet is the whole denoiser: picture-shaped noisy sample → the
// predicted noise, through the space-to-depth stem, the UNet body and
// the depth-to-space head.
func pixelUNet(l *onnxexport.Layers, cfg onnxexport.UNetConfig, x, t, text *onnxexport.Value) *onnxexport.Value {
	b := l.Builder
	out := l.UNet2DConditionModel(cfg, onnxexport.UNetInputs{Sample: spaceToDepth(b, x), Timestep: t, EncoderHiddenStates: text})
	return depthToSpace(b, out)
}

// denoiserLoss builds the training loss: inputs encoder_hidden_states
// [B,32,128] (the frozen text encoder's, computed beforehand), sample
// [B,3,32,32] (x_t), timestep [B] and target [B,3,32,32] (the noise ε);
// loss MSE(ε̂, ε).
func denoiserLoss(cfg onnxexport.UNetConfig, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("ddpm")
	l := onnxexport.NewLayers(b, seed)
	text := b.Input("encoder_hidden_states", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(contextLength), onnxexport.D(textWidth))
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	eps := b.Input("target", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	diff := b.Sub(pixelUNet(l, cfg, x, t, text), eps)
	return b, b.ReduceMean(b.Mul(diff, diff), false)
}

// newUNetGraph is the exported denoiser with Optimum's names: sample
// [batch_size,3,32,32], timestep (a float32 scalar), encoder_hidden_states
// [batch_size,sequence_length,128] → out_sample [batch_size,3,32,32].
func newUNetGraph(cfg onnxexport.UNetConfig) *onnxexport.Builder {
	b := onnxexport.NewBuilder("unet")
	l := onnxexport.NewLayers(b, 0)
	x := b.Input("sample", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	t := b.Input("timestep", onnxexport.Float32)
	text := b.Input("encoder_hidden_states", onnxexport.Float32, onnxexport.Sym("batch_size"), onnxexport.Sym("sequence_length"), onnxexport.D(textWidth))
	b.OutputAs("out_sample", pixelUNet(l, cfg, x, t, text), onnxexport.Sym("batch_size"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	return b
}
