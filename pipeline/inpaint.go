package pipeline

import (
	"context"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/rng"
)

// inpaintState holds what inpainting adds to the loop.
type inpaintState struct {
	nineChannel bool
	// extra is, per sample, the mask (1 channel) followed by the
	// masked-image latents, for 9-channel inpainting UNets.
	extra []float32
	// mask is the latent-size mask per sample (1 = repaint), and noise the
	// initial noise, for the blend of 4-channel UNets.
	mask  []float32
	noise []float32
}

// initInpaint prepares inpainting as StableDiffusionInpaintPipeline does:
// the mask is binarized at 0.5, the masked image keeps pixels where the
// mask is 0, and the generator draws the init-image latents (when needed),
// then the noise, then the masked-image latents.
func (p *diffusionPipeline) initInpaint(ctx context.Context, r *run, gen *rng.Generator) error {
	q := r.q
	ib, mb := q.InitImage.Bounds(), q.Mask.Bounds()
	if ib.Dx() != mb.Dx() || ib.Dy() != mb.Dy() {
		return badRequest("the mask is %dx%d but the init image is %dx%d; they must be the same size", mb.Dx(), mb.Dy(), ib.Dx(), ib.Dy())
	}
	H, W := q.Height, q.Width
	// Conversion and resizing follow diffusers' VaeImageProcessor (package
	// imageio): [-1, 1] pixels, and a grey mask binarized at 0.5.
	pix, err := imageio.ImageTensor(q.InitImage, W, H)
	if err != nil {
		return badRequest("init image: %v", err)
	}
	mask, err := imageio.MaskTensor(q.Mask, W, H)
	if err != nil {
		return badRequest("mask: %v", err)
	}
	st := &inpaintState{nineChannel: p.den.InChannels == 9}
	r.inpaint = st
	strengthMax := q.Strength == 1
	var imageLat []float32
	if !st.nineChannel || !strengthMax {
		lat, err := p.encodePixels(ctx, pix, H, W, gen)
		if err != nil {
			return err
		}
		imageLat = repeatBatch(lat, r.batch)
	}
	noise := make([]float32, len(r.latents))
	gen.Randn(noise)
	if strengthMax {
		s := float32(r.sched.InitNoiseSigma())
		for i := range noise {
			r.latents[i] = noise[i] * s
		}
	} else {
		r.sched.AddNoise(r.latents, imageLat, noise, r.timesteps[0])
	}
	lmask := nearestDown(mask, H, W, r.lh, r.lw)
	// The masked image is encoded for 4-channel UNets too: diffusers draws
	// its posterior sample either way, and later stochastic steps continue
	// from the generator after that draw.
	masked := make([]float32, len(pix))
	for c := 0; c < 3; c++ {
		for k := 0; k < H*W; k++ {
			if mask[k] < 0.5 {
				masked[c*H*W+k] = pix[c*H*W+k]
			}
		}
	}
	mlat, err := p.encodePixels(ctx, masked, H, W, gen)
	if err != nil {
		return err
	}
	if st.nineChannel {
		one := append(append([]float32{}, lmask...), mlat...)
		st.extra = repeatBatch(one, r.batch)
		return nil
	}
	r.imageLat = imageLat
	st.mask = lmask
	st.noise = noise
	return nil
}

// blendInpaint keeps the unmasked region on the init image's noised
// trajectory after step k (4-channel UNets, diffusers' legacy path).
func (r *run) blendInpaint(k int) error {
	st := r.inpaint
	proper := r.imageLat
	if k < len(r.timesteps)-1 {
		proper = make([]float32, len(r.latents))
		r.sched.AddNoise(proper, r.imageLat, st.noise, r.timesteps[k+1])
	}
	plane := r.lh * r.lw
	for i := range r.latents {
		m := st.mask[i%plane]
		r.latents[i] = (1-m)*proper[i] + m*r.latents[i]
	}
	return nil
}

// nearestDown resizes a plane with nearest-neighbour sampling, as
// torch.nn.functional.interpolate does by default.
func nearestDown(x []float32, h, w, oh, ow int) []float32 {
	out := make([]float32, oh*ow)
	for y := 0; y < oh; y++ {
		sy := y * h / oh
		for xx := 0; xx < ow; xx++ {
			out[y*ow+xx] = x[sy*w+xx*w/ow]
		}
	}
	return out
}
