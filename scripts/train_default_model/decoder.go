package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/internal/lossweight"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// decoderNoise is the standard deviation, in scaled latent units (unit
// variance), of the noise added to the encoder's latents while the
// decoder is fine-tuned: the denoiser's latents are never exact, and a
// decoder that has only seen exact ones draws their errors as blur.
const decoderNoise = 0.1

// decoderLoss builds the decoder-only loss: inputs latent [B,C,L,L] (the
// raw, unscaled latent a VAE encoder gives), image [B,3,S,S] and, when
// weighted, weight [B,1,S,S]; loss L1(decode(latent), image), each
// pixel's error times its weight when weighted. Its parameters are the
// VAE decoder's (decoder.*, post_quant_conv.*), so the encoder and with it
// the latent space the denoiser was trained on stay as they are.
func decoderLoss(cfg onnxexport.VAEConfig, seed uint64, batch int64, weighted bool) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("decoder")
	l := onnxexport.NewLayers(b, seed)
	z := b.Input("latent", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.LatentChannels), onnxexport.D(latentSize), onnxexport.D(latentSize))
	img := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	rec := l.VAEDecoder(cfg, z)
	if !weighted {
		return b, b.L1Loss(rec, img)
	}
	w := b.Input("weight", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(1), onnxexport.D(imageSize), onnxexport.D(imageSize))
	return b, b.ReduceMean(b.Mul(b.Abs(b.Sub(rec, img)), w), false)
}

// phaseDecoder fine-tunes the VAE decoder alone on the cached latents of
// the training pictures (with decoderNoise added) and returns the VAE
// weights with the decoder's replaced by the fine-tuned EMA copy. With
// -decoder-steps 0 it returns vae unchanged.
func phaseDecoder(ctx context.Context, o options, cfg onnxexport.VAEConfig, vae map[string]*onnxexport.Tensor, lat *latentSet) (map[string]*onnxexport.Tensor, error) {
	if o.decoderSteps <= 0 {
		return vae, nil
	}
	b, loss := decoderLoss(cfg, o.seed, o.vaeBatch, o.decoderEdge > 0)
	if err := b.LoadParams(vae); err != nil {
		return nil, err
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.99})
	if err != nil {
		return nil, err
	}
	data := decoderData{lat: lat, per: int(cfg.LatentChannels) * latentSize * latentSize, pics: shapes.Dataset{Split: shapes.Train, Size: imageSize}, edge: float32(o.decoderEdge)}
	dec, err := trainPhase(ctx, o, o.decoderName, g, data, o.decoderSteps, o.decoderLR, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*onnxexport.Tensor, len(vae))
	n := 0
	for k, v := range vae {
		if w, ok := dec[k]; ok && (strings.HasPrefix(k, "decoder.") || strings.HasPrefix(k, "post_quant_conv.")) {
			v = w
			n++
		}
		out[k] = v
	}
	if n == 0 {
		return nil, fmt.Errorf("no decoder parameters in %s", filepath.Join(o.state, o.decoderName+".ckpt"))
	}
	return out, nil
}

// decoderData pairs each training picture with its cached latent, noised
// and unscaled back to the encoder's units.
type decoderData struct {
	lat  *latentSet
	per  int
	pics shapes.Dataset
	edge float32 // lossweight.Outline's boost; 0: no weight slot
}

func (d decoderData) Len() int { return len(d.lat.latents) / d.per }

func (d decoderData) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	want := 2
	if d.edge > 0 {
		want = 3
	}
	if len(dst) != want || len(dst[0].F32) != d.per {
		return fmt.Errorf("decoder data: unexpected batch layout")
	}
	z := d.lat.latents[i*d.per : (i+1)*d.per]
	for k, v := range z {
		dst[0].F32[k] = float32((float64(v) + decoderNoise*rng.NormFloat64()) / d.lat.scale)
	}
	s, err := d.pics.Sample(i)
	if err != nil {
		return err
	}
	imageToCHW(s.Image.Pix, s.Image.Stride, imageSize, dst[1].F32)
	if d.edge > 0 {
		lossweight.Outline(s.Image.Pix, s.Image.Stride, imageSize, d.edge, dst[2].F32)
	}
	return nil
}
