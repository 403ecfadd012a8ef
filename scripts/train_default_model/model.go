package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// imageSize is the side of the training pictures and of the default
// generation size.
const imageSize = 32

// contextLength is the tokenizer's model_max_length and the text
// encoder's position count: the longest caption is 27 tokens with BOS and
// EOS, and prompts a little longer than the dataset's still fit.
const contextLength = 32

// latentChannels is the VAE's latent depth.
const latentChannels = 8

// modelConfig is the default model's architecture: a VAE with a factor of
// 4 (32x32x3 pictures, 8x8x8 latents: with 4 channels, as SD, the short
// training could not keep the outline of a small star or heart), a
// 2-layer CLIP-style text encoder 64 wide and a two-level UNet with
// cross-attention at both levels.
func modelConfig(vocabSize int64) onnxexport.SDConfig {
	return onnxexport.SDConfig{
		Name: "imagegen-shapes",
		Text: onnxexport.CLIPTextConfig{
			VocabSize: vocabSize, HiddenSize: 64, IntermediateSize: 256, NumLayers: 2, NumHeads: 4,
			MaxPositionEmbeddings: contextLength, HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
			BOSTokenID: vocabSize - 2, EOSTokenID: vocabSize - 1,
		},
		UNet: onnxexport.UNetConfig{
			InChannels: latentChannels, OutChannels: latentChannels, SampleSize: imageSize / 4,
			BlockOutChannels: []int64{64, 128},
			DownBlockTypes:   []string{onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnDownBlock2D},
			UpBlockTypes:     []string{onnxexport.CrossAttnUpBlock2D, onnxexport.CrossAttnUpBlock2D},
			LayersPerBlock:   1, AttentionHeads: []int64{4}, CrossAttentionDim: 64,
			NormGroups: 16, NormEps: 1e-5, FlipSinToCos: true,
		},
		VAE: onnxexport.VAEConfig{
			InChannels: 3, OutChannels: 3, LatentChannels: latentChannels,
			BlockOutChannels: []int64{32, 64, 64}, LayersPerBlock: 1,
			NormGroups: 16, SampleSize: imageSize, ScalingFactor: 1,
		},
	}
}

// klWeight weighs the VAE's KL term against the per-pixel L1: small, as
// in latent diffusion, so the latents stay near unit scale without
// blurring the reconstruction.
const klWeight = 1e-5

// vaeLoss builds the VAE training loss on a batch: inputs image
// [B,3,S,S] in [-1,1] and eps [B,C,S/4,S/4] (standard normal); loss
// L1(decode(mean + σ·eps), image) + klWeight·KL. L1 rather than MSE keeps
// the edges that the checker's shape classes depend on sharper.
func vaeLoss(cfg onnxexport.VAEConfig, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("vae")
	l := onnxexport.NewLayers(b, seed)
	lat := int64(imageSize / 4)
	img := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	eps := b.Input("eps", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.LatentChannels), onnxexport.D(lat), onnxexport.D(lat))
	moments := l.VAEEncoder(cfg, img)
	parts := b.Split(moments, 1, cfg.LatentChannels, cfg.LatentChannels)
	mean, logvar := parts[0], parts[1]
	logvar = b.Max(b.Min(logvar, b.ScalarLike(logvar, 20)), b.ScalarLike(logvar, -30))
	std := b.Exp(b.Mul(logvar, b.ScalarLike(logvar, 0.5)))
	z := b.Add(mean, b.Mul(std, eps))
	rec := l.VAEDecoder(cfg, z)
	loss := b.Add(b.L1Loss(rec, img), b.Mul(b.ScalarLike(mean, klWeight), b.GaussianKLLoss(mean, logvar)))
	return b, loss
}

// denoiserLoss builds the joint text encoder + UNet loss: inputs
// input_ids int64 [B,contextLength], sample (noised scaled latents),
// timestep [B] and target (the noise); loss MSE(unet(sample, t,
// text(ids)), noise). The parameter names are those of the two
// inference graphs (text_model.* and the UNet's), so each half loads its
// weights with LoadParams.
func denoiserLoss(cfg onnxexport.SDConfig, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("denoiser")
	l := onnxexport.NewLayers(b, seed)
	lat := cfg.UNet.SampleSize
	ids := b.Input("input_ids", onnxexport.Int64, onnxexport.D(batch), onnxexport.D(contextLength))
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.UNet.InChannels), onnxexport.D(lat), onnxexport.D(lat))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	noise := b.Input("target", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.UNet.InChannels), onnxexport.D(lat), onnxexport.D(lat))
	text := l.CLIPTextTransformer(cfg.Text, ids)
	pred := l.UNet2DConditionModel(cfg.UNet, onnxexport.UNetInputs{Sample: x, Timestep: t, EncoderHiddenStates: text.LastHiddenState})
	return b, b.MSELoss(pred, noise)
}
