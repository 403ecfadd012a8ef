package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// imageSize is the side of the training pictures and of the pictures the
// model draws.
const imageSize = 32

// cascadeSize is the size of the pictures requests get by default: the
// model's, enlarged 4 times by builtin:sr.
const cascadeSize = 4 * imageSize

// contextLength is the tokenizer's model_max_length and the text
// encoder's position count: the longest caption is 27 tokens with BOS and
// EOS, and prompts a little longer than the dataset's still fit.
const contextLength = 32

// vaeFactor is the VAE's downsampling factor and latentChannels its
// latent depth: 32x32x3 pictures become 16x16x4 latents. A factor of 4
// (8x8x8) was tried first: its reconstructions lost the points of small
// stars and hearts (the checker's shape score of its own round trips was
// 43%), and the UNet had too few latent pixels to place a shape in the
// right grid cell.
const (
	vaeFactor      = 2
	latentChannels = 4
	latentSize     = imageSize / vaeFactor
)

// textTimeHeads is the head count of the UNet's attention pooling of the
// prompt (diffusers' addition_embed_type "text"): the pooled prompt is
// added to the time embedding, so every resnet is conditioned on the whole
// caption, which a UNet this small learns much sooner than through
// cross-attention alone.
const textTimeHeads = 4

// modelConfig is the default model's architecture: a VAE with a factor of
// 2, a 3-layer CLIP-style text encoder 128 wide and a three-level UNet
// (32/64/128 channels at 16/8/4 latent pixels) with cross-attention on
// the two lower levels, the pooled prompt in its time embedding and a
// learned position embedding after conv_in. Without the last, the UNet
// had nothing but the noise to tell one pixel from another at high noise
// levels: 5,500 steps in, "at the left" and "at the right" drew the same
// picture for a seed, wherever that seed's noise put the shape.
//
// With attnTop the top level (16 latent pixels) gets cross-attention
// too, so the blocks that draw the outlines read the caption themselves
// instead of through the coarser levels. The parameters it adds are new
// and the rest keep their names, so a run with it can start from a
// checkpoint without it (see growIdentity).
func modelConfig(vocabSize int64, attnTop bool) onnxexport.SDConfig {
	down := []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnDownBlock2D}
	up := []string{onnxexport.CrossAttnUpBlock2D, onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D}
	if attnTop {
		down[0], up[2] = onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnUpBlock2D
	}
	return onnxexport.SDConfig{
		Name: "imagegen-shapes",
		Text: onnxexport.CLIPTextConfig{
			VocabSize: vocabSize, HiddenSize: 128, IntermediateSize: 512, NumLayers: 3, NumHeads: 4,
			MaxPositionEmbeddings: contextLength, HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
			BOSTokenID: vocabSize - 2, EOSTokenID: vocabSize - 1,
		},
		UNet: onnxexport.UNetConfig{
			InChannels: latentChannels, OutChannels: latentChannels, SampleSize: latentSize,
			BlockOutChannels: []int64{32, 64, 128},
			DownBlockTypes:   down,
			UpBlockTypes:     up,
			LayersPerBlock:   1, AttentionHeads: []int64{4}, CrossAttentionDim: 128,
			NormGroups: 16, NormEps: 1e-5, FlipSinToCos: true, TextTimeHeads: textTimeHeads,
			PositionEmbedding: true,
		},
		VAE: onnxexport.VAEConfig{
			InChannels: 3, OutChannels: 3, LatentChannels: latentChannels,
			BlockOutChannels: []int64{32, 64}, LayersPerBlock: 1,
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
	lat := int64(latentSize)
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

// denoiserLoss builds the denoiser's training loss: inputs input_ids
// int64 [B,contextLength] (or, with frozenText, the text encoder's
// encoder_hidden_states [B,contextLength,D] computed beforehand), sample
// (noised scaled latents), timestep [B], target (the noise, or v with
// -prediction v_prediction) and weight [B,1,1,1]; loss the mean over the
// batch of weight · MSE(unet(sample, t, text), target) per example (the
// data sets the weights: 1, or Min-SNR-γ). Without frozenText the text
// encoder trains with the UNet. The parameter names are those of the
// inference graphs (text_model.* and the UNet's), so each half loads its
// weights with LoadParams.
func denoiserLoss(cfg onnxexport.SDConfig, seed uint64, batch int64, frozenText bool) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("denoiser")
	if frozenText {
		b = onnxexport.NewBuilder("unet-on-frozen-text")
	}
	l := onnxexport.NewLayers(b, seed)
	lat := cfg.UNet.SampleSize
	var text, ids *onnxexport.Value
	if frozenText {
		text = b.Input("encoder_hidden_states", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(contextLength), onnxexport.D(cfg.Text.HiddenSize))
	} else {
		ids = b.Input("input_ids", onnxexport.Int64, onnxexport.D(batch), onnxexport.D(contextLength))
	}
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.UNet.InChannels), onnxexport.D(lat), onnxexport.D(lat))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	noise := b.Input("target", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.UNet.InChannels), onnxexport.D(lat), onnxexport.D(lat))
	w := b.Input("weight", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(1), onnxexport.D(1), onnxexport.D(1))
	if !frozenText {
		text = l.CLIPTextTransformer(cfg.Text, ids).LastHiddenState
	}
	pred := l.UNet2DConditionModel(cfg.UNet, onnxexport.UNetInputs{Sample: x, Timestep: t, EncoderHiddenStates: text})
	diff := b.Sub(pred, noise)
	perExample := b.ReduceMean(b.Mul(diff, diff), true, 1, 2, 3)
	return b, b.ReduceMean(b.Mul(perExample, w), false, 0, 1, 2, 3)
}
