package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/watermark"
)

// decode runs the VAE decoder one image at a time (the decoder is the
// memory peak at large sizes) and converts to [N, H, W, 3] in [0, 1] as
// diffusers' image processor does: (x / 2 + 0.5) clamped.
func (p *diffusionPipeline) decode(ctx context.Context, r *run, res *Result) error {
	lat := p.unscaledLatents(r)
	per := r.channels * r.lh * r.lw
	H, W := r.lh*p.vaeScale, r.lw*p.vaeScale
	res.N, res.H, res.W = r.batch, H, W
	res.Images = make([]float32, r.batch*H*W*3)
	var out ort.Tensor
	tile, overlap := p.vaeTile(H, W)
	for b := 0; b < r.batch; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		x := lat[b*per : (b+1)*per]
		out = ort.Tensor{}
		if tile > 0 {
			spec := tiledSpec{sess: p.vaeDec, inName: "latent_sample", outName: "sample", inC: r.channels, inH: r.lh, inW: r.lw,
				num: p.vaeScale, den: 1, tile: tile / p.vaeScale, overlap: overlap / p.vaeScale}
			data, c, err := spec.run(ctx, x)
			if err != nil {
				return fmt.Errorf("pipeline: tiled vae decode: %w", err)
			}
			out = ort.Tensor{Shape: []int64{1, int64(c), int64(H), int64(W)}, F32: data}
		} else {
			in := map[string]ort.Tensor{"latent_sample": {Shape: []int64{1, int64(r.channels), int64(r.lh), int64(r.lw)}, F32: x}}
			if err := p.vaeDec.Run(ctx, in, map[string]*ort.Tensor{"sample": &out}); err != nil {
				return fmt.Errorf("pipeline: vae decode: %w", err)
			}
		}
		if len(out.Shape) != 4 || out.Shape[1] != 3 || int(out.Shape[2]) != H || int(out.Shape[3]) != W {
			return fmt.Errorf("pipeline: vae decoder returned shape %v, want [1, 3, %d, %d]", out.Shape, H, W)
		}
		img := res.Images[b*H*W*3 : (b+1)*H*W*3]
		if err := decodedToImage(img, out.F32, H, W, r.q.Watermark); err != nil {
			return err
		}
	}
	return nil
}

// decodedToImage turns one decoded picture, CHW in [-1, 1], into HWC in
// [0, 1] in dst, watermarking it first when wm says so (diffusers applies
// the SDXL watermark between the VAE and the image processor).
func decodedToImage(dst, chw []float32, h, w int, wm string) error {
	if wm == WatermarkSDXL {
		if err := watermark.ApplySDXL(chw, []int{1, 3, h, w}); err != nil {
			return fmt.Errorf("pipeline: watermark: %w", err)
		}
	}
	plane := h * w
	for c := 0; c < 3; c++ {
		src := chw[c*plane : (c+1)*plane]
		for k, v := range src {
			v = v/2 + 0.5
			if v < 0 {
				v = 0
			} else if v > 1 {
				v = 1
			}
			dst[k*3+c] = v
		}
	}
	if !checkFinite(dst) {
		return fmt.Errorf("%w in the VAE decoder output", ErrNaN)
	}
	return nil
}

// vaeEncoder opens the VAE encoder on first use.
func (p *diffusionPipeline) vaeEncoder() (*ort.Session, error) {
	if p.vaeEnc != nil {
		return p.vaeEnc, nil
	}
	s, err := p.open("vae_encoder")
	if err != nil {
		return nil, fmt.Errorf("pipeline: img2img and inpainting need the VAE encoder: %w", err)
	}
	p.vaeEnc = s
	return s, nil
}

// encodePixels runs the VAE encoder on [1, 3, h, w] pixels in [-1, 1] and
// returns scaled model latents. Exports with latent_parameters (mean and
// log-variance) are sampled with the seeded generator, as diffusers'
// latent_dist.sample(generator) does; older exports with latent_sample are
// used as they are.
func (p *diffusionPipeline) encodePixels(ctx context.Context, pix []float32, h, w int, gen *rng.Generator) ([]float32, error) {
	lat, err := p.encodePosterior(ctx, pix, h, w, gen)
	if err != nil {
		return nil, err
	}
	p.scaleImageLatents(lat)
	return lat, nil
}

// encodePosterior runs the VAE encoder as encodePixels does but returns
// the latents unscaled; with gen nil it returns the posterior's mode (its
// mean), as diffusers' latent_dist.mode() does for SVD's first frame.
func (p *diffusionPipeline) encodePosterior(ctx context.Context, pix []float32, h, w int, gen *rng.Generator) ([]float32, error) {
	enc, err := p.vaeEncoder()
	if err != nil {
		return nil, err
	}
	in := map[string]ort.Tensor{"sample": {Shape: []int64{1, 3, int64(h), int64(w)}, F32: pix}}
	tile, overlap := p.vaeTile(h, w)
	runEnc := func(name string, out *ort.Tensor) error {
		if tile == 0 {
			return enc.Run(ctx, in, map[string]*ort.Tensor{name: out})
		}
		spec := tiledSpec{sess: enc, inName: "sample", outName: name, inC: 3, inH: h, inW: w,
			num: 1, den: p.vaeScale, tile: tile, overlap: overlap}
		data, c, err := spec.run(ctx, pix)
		if err != nil {
			return fmt.Errorf("tiled: %w", err)
		}
		*out = ort.Tensor{Shape: []int64{1, int64(c), int64(h / p.vaeScale), int64(w / p.vaeScale)}, F32: data}
		return nil
	}
	var lat []float32
	switch {
	case hasOutput(enc, "latent_parameters"):
		var out ort.Tensor
		if err := runEnc("latent_parameters", &out); err != nil {
			return nil, fmt.Errorf("pipeline: vae encode: %w", err)
		}
		if len(out.Shape) != 4 || out.Shape[1]%2 != 0 {
			return nil, fmt.Errorf("pipeline: vae encoder returned latent_parameters of shape %v, want [1, 2C, h, w]", out.Shape)
		}
		n := len(out.F32) / 2
		mean, logvar := out.F32[:n], out.F32[n:]
		if gen == nil {
			lat = append([]float32(nil), mean...)
			break
		}
		noise := make([]float32, n)
		gen.Randn(noise)
		lat = make([]float32, n)
		for i := range lat {
			lv := math.Min(math.Max(float64(logvar[i]), -30), 20)
			std := float32(math.Exp(0.5 * lv))
			lat[i] = mean[i] + std*noise[i]
		}
	case hasOutput(enc, "latent_sample"):
		var out ort.Tensor
		if err := runEnc("latent_sample", &out); err != nil {
			return nil, fmt.Errorf("pipeline: vae encode: %w", err)
		}
		lat = out.F32
	default:
		return nil, fmt.Errorf("pipeline: %s: vae encoder has neither latent_parameters nor latent_sample output", enc.Name())
	}
	return lat, nil
}

func (p *diffusionPipeline) encodeImage(ctx context.Context, img image.Image, h, w int, gen *rng.Generator) ([]float32, error) {
	pix, err := imageio.ImageTensor(img, w, h)
	if err != nil {
		return nil, badRequest("init image: %v", err)
	}
	return p.encodePixels(ctx, pix, h, w, gen)
}

func hasOutput(s *ort.Session, name string) bool {
	_, ok := s.Output(name)
	return ok
}
