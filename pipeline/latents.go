package pipeline

import (
	"context"

	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/schedulers"
)

// perPromptNoise is the noise of a batch whose prompts carry their own
// seeds. Every draw covers the whole batch, which is prompt-major, so
// splitting it into equal parts hands each prompt's generator the same
// sequence of draws, of the same sizes, as a run of that prompt alone.
type perPromptNoise []*rng.Generator

func newPerPromptNoise(seeds []uint64) perPromptNoise {
	n := make(perPromptNoise, len(seeds))
	for i, s := range seeds {
		n[i] = rng.New(s)
	}
	return n
}

// Randn fills dst, whose length is a multiple of the number of prompts.
func (n perPromptNoise) Randn(dst []float32) {
	per := len(dst) / len(n)
	for i, g := range n {
		g.Randn(dst[i*per : (i+1)*per])
	}
}

// initLatents draws the starting latents from the seeded generator in
// diffusers' order: for text-to-image one randn over the whole batch (from
// noise, which splits it by prompt under per-prompt seeds); for img2img
// first the VAE posterior sample of the init image, then the noise.
func (p *diffusionPipeline) initLatents(ctx context.Context, r *run, gen *rng.Generator, noiseSrc schedulers.Noise) error {
	q := r.q
	unpacked := len(r.latents)
	if q.Mask != nil {
		return p.initInpaint(ctx, r, gen)
	}
	if q.InitImage == nil {
		noise := make([]float32, unpacked)
		noiseSrc.Randn(noise)
		if p.family == FamilySD || p.family == FamilySDXL {
			scale := float32(r.sched.InitNoiseSigma())
			for i := range noise {
				noise[i] *= scale
			}
		}
		r.store(noise)
		return nil
	}
	img, err := p.encodeImage(ctx, q.InitImage, q.Height, q.Width, gen)
	if err != nil {
		return err
	}
	imageLat := repeatBatch(img, r.batch)
	noise := make([]float32, unpacked)
	gen.Randn(noise)
	t0 := r.timesteps[0]
	if r.packed {
		// Flux: scale_noise on the packed latents, as FluxImg2ImgPipeline does.
		pi, pn := r.pack(imageLat), r.pack(noise)
		r.sched.AddNoise(r.latents, pi, pn, t0)
		return nil
	}
	r.sched.AddNoise(r.latents, imageLat, noise, t0)
	return nil
}

// store copies unpacked latents into r.latents, packing them for Flux.
func (r *run) store(unpacked []float32) {
	if r.packed {
		copy(r.latents, r.pack(unpacked))
		return
	}
	copy(r.latents, unpacked)
}

// pack turns [B, C, H, W] latents into Flux's [B, (H/2)(W/2), 4C] patches.
func (r *run) pack(x []float32) []float32 { return r.patches(x, false) }

// unpack inverts pack.
func (r *run) unpack(x []float32) []float32 { return r.patches(x, true) }

// patches moves values between the unpacked layout and the packed one,
// where each 2x2 patch of every channel becomes one token row (diffusers'
// _pack_latents / _unpack_latents).
func (r *run) patches(x []float32, unpack bool) []float32 {
	c, h, w := r.channels, r.lh, r.lw
	out := make([]float32, len(x))
	per := c * h * w
	k := 0
	for b := 0; b < r.batch; b++ {
		for y := 0; y < h/2; y++ {
			for xx := 0; xx < w/2; xx++ {
				for ch := 0; ch < c; ch++ {
					for dy := 0; dy < 2; dy++ {
						for dx := 0; dx < 2; dx++ {
							u := b*per + ch*h*w + (2*y+dy)*w + 2*xx + dx
							if unpack {
								out[u] = x[k]
							} else {
								out[k] = x[u]
							}
							k++
						}
					}
				}
			}
		}
	}
	return out
}

// repeatBatch repeats one sample's latents n times.
func repeatBatch(x []float32, n int) []float32 {
	out := make([]float32, 0, len(x)*n)
	for i := 0; i < n; i++ {
		out = append(out, x...)
	}
	return out
}

// unscaledLatents returns the latents the VAE decoder takes: divided by the
// scaling factor, plus the shift factor (SD3, Flux), unpacked for Flux.
func (p *diffusionPipeline) unscaledLatents(r *run) []float32 {
	x := r.latents
	if r.packed {
		x = r.unpack(x)
	} else {
		x = append([]float32(nil), x...)
	}
	sf := float32(p.vae.ScalingFactor)
	var shift float32
	if p.vae.ShiftFactor != nil && (p.family == FamilySD3 || p.family == FamilyFlux) {
		shift = float32(*p.vae.ShiftFactor)
	}
	for i := range x {
		x[i] = x[i]/sf + shift
	}
	return x
}

// scaleImageLatents maps a VAE posterior sample to model latents.
func (p *diffusionPipeline) scaleImageLatents(x []float32) {
	sf := float32(p.vae.ScalingFactor)
	var shift float32
	if p.vae.ShiftFactor != nil && (p.family == FamilySD3 || p.family == FamilyFlux) {
		shift = float32(*p.vae.ShiftFactor)
	}
	for i := range x {
		x[i] = (x[i] - shift) * sf
	}
}
