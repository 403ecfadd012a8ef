package pipeline

import (
	"context"
	"fmt"
	"image"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
)

// The conditioning of each video family: what its UNet takes beside the
// sample, and how its model input and guidance are laid out.

// svdConditioning prepares SVD's image-to-video conditioning as diffusers'
// StableVideoDiffusionPipeline does: the CLIP image embedding of the first
// frame (zeros for the unconditional rows), the VAE latents' mode of the
// first frame with noise_aug_strength·N(0, 1) added to its pixels (zeros
// unconditionally), repeated over the frames and concatenated to the noisy
// latents on channels, added_time_ids (fps−1, motion_bucket_id,
// noise_aug_strength), and guidance rising linearly over the frames. The
// augmentation noise is the first draw of gen, before the latents.
func (v *videoPipeline) svdConditioning(ctx context.Context, vr *videoRun, gen *rng.Generator) (stepInputs, error) {
	q := vr.q
	nb := vr.batch
	if vr.cfg {
		nb *= 2
	}
	embeds, err := v.clipImageEmbeds(ctx, vr.init)
	if err != nil {
		return stepInputs{}, err
	}
	d := len(embeds)
	ehs := make([]float32, nb*d)
	for b := nb - vr.batch; b < nb; b++ {
		copy(ehs[b*d:], embeds)
	}
	pix, err := imageio.ImageTensor(vr.init, q.Width, q.Height)
	if err != nil {
		return stepInputs{}, badRequest("init image: %v", err)
	}
	noise := make([]float32, len(pix))
	gen.Randn(noise)
	aug := float32(vr.noiseAug)
	for i := range pix {
		pix[i] += aug * noise[i]
	}
	lat, err := v.encodePosterior(ctx, pix, q.Height, q.Width, nil)
	if err != nil {
		return stepInputs{}, err
	}
	hw, c, F := vr.lh*vr.lw, vr.channels, vr.frames
	if len(lat)%hw != 0 {
		return stepInputs{}, fmt.Errorf("pipeline: vae encoder returned %d values for a %dx%d latent grid", len(lat), vr.lw, vr.lh)
	}
	inC := c + len(lat)/hw
	if v.den.InChannels != 0 && v.den.InChannels != inC {
		return stepInputs{}, fmt.Errorf("pipeline: %s: unet in_channels %d, want %d (latents) + %d (first frame)", v.dir, v.den.InChannels, c, inC-c)
	}
	scales := frameGuidance(vr.minGuidance, q.guidance, F)
	return stepInputs{
		inputs: map[string]ort.Tensor{
			"encoder_hidden_states": {Shape: []int64{int64(nb), 1, int64(d)}, F32: ehs},
			"added_time_ids":        svdAddedTimeIDs(vr.fps-1, vr.motion, vr.noiseAug, nb),
		},
		inChannels: inC,
		prepare: func(modelIn []float32) {
			for b := nb - vr.batch; b < nb; b++ {
				for f := 0; f < F; f++ {
					copy(modelIn[((b*F+f)*inC+c)*hw:((b*F+f)*inC+inC)*hw], lat)
				}
			}
		},
		fill: func(modelIn, scaled []float32) {
			for b := 0; b < nb; b++ {
				src := b % vr.batch
				for f := 0; f < F; f++ {
					copy(modelIn[(b*F+f)*inC*hw:((b*F+f)*inC+c)*hw], scaled[(src*F+f)*c*hw:(src*F+f+1)*c*hw])
				}
			}
		},
		guide: func(dst, out []float32) { combineCFGFrames(dst, out, scales, c*hw) },
	}, nil
}

// svdAddedTimeIDs is SVD's added_time_ids, one row (fps−1,
// motion_bucket_id, noise_aug_strength) per UNet batch row.
func svdAddedTimeIDs(fpsMinus1 float64, motion int, noiseAug float64, rows int) ort.Tensor {
	ids := make([]float32, 0, 3*rows)
	for range rows {
		ids = append(ids, float32(fpsMinus1), float32(motion), float32(noiseAug))
	}
	return ort.Tensor{Shape: []int64{int64(rows), 3}, F32: ids}
}

// clipImageEmbeds runs SVD's CLIP image encoder on img resized to its
// input size and CLIP-normalized, returning image_embeds.
//
// diffusers resizes with a Gaussian blur and bicubic interpolation
// (_resize_with_antialiasing); this uses the Lanczos resize of
// imageio.ImageTensor, so the embedding of an image not already at the
// encoder's size differs slightly from diffusers'.
func (v *videoPipeline) clipImageEmbeds(ctx context.Context, img image.Image) ([]float32, error) {
	s := v.clipSize
	pix, err := imageio.ImageTensor(img, s, s)
	if err != nil {
		return nil, badRequest("init image: %v", err)
	}
	plane := s * s
	for c := range 3 {
		m, sd := v.clipMean[c], v.clipStd[c]
		for i, x := range pix[c*plane : (c+1)*plane] {
			pix[c*plane+i] = ((x+1)/2 - m) / sd
		}
	}
	var out ort.Tensor
	in := map[string]ort.Tensor{"pixel_values": {Shape: []int64{1, 3, int64(s), int64(s)}, F32: pix}}
	if err := v.imageEnc.Run(ctx, in, map[string]*ort.Tensor{"image_embeds": &out}); err != nil {
		return nil, fmt.Errorf("pipeline: image encoder: %w", err)
	}
	if len(out.Shape) != 2 || out.Shape[0] != 1 {
		return nil, fmt.Errorf("pipeline: image encoder returned image_embeds of shape %v, want [1, D]", out.Shape)
	}
	return out.F32, nil
}

// animateDiffConditioning encodes the prompts with SD's text encoder, as
// AnimateDiffPipeline does; the UNet takes each clip's latents as they are
// and one guidance scale.
func (v *videoPipeline) animateDiffConditioning(ctx context.Context, vr *videoRun) (stepInputs, error) {
	cond, err := v.encodePrompts(ctx, vr.q, v.encoders)
	if err != nil {
		return stepInputs{}, err
	}
	if v.textPerFrame() {
		ehs := cond.inputs["encoder_hidden_states"]
		cond.inputs["encoder_hidden_states"] = repeatRows(ehs, vr.frames)
	}
	per := len(vr.latents) / vr.batch
	g := float32(vr.q.guidance)
	return stepInputs{
		inputs:     cond.inputs,
		inChannels: vr.channels,
		fill: func(modelIn, scaled []float32) {
			for b := 0; b*per < len(modelIn); b++ {
				copy(modelIn[b*per:(b+1)*per], scaled[(b%vr.batch)*per:])
			}
		},
		guide: func(dst, out []float32) { combineCFG(dst, out, g) },
	}, nil
}

// textPerFrame reports whether the AnimateDiff UNet export takes the text
// embedding once per frame, [B·F, S, D] (diffusers from 0.30 on repeats
// it in the pipeline), rather than once per clip, [B, S, D] (earlier
// versions repeat it inside the UNet). The export's declared batch sizes
// tell: two different static sizes, or two different symbolic names.
func (v *videoPipeline) textPerFrame() bool {
	s, _ := v.denoiser.Input("sample")
	e, ok := v.denoiser.Input("encoder_hidden_states")
	if !ok || len(e.Shape) != 3 {
		return false
	}
	if s.Shape[0] > 0 && e.Shape[0] > 0 {
		return s.Shape[0] != e.Shape[0]
	}
	name := func(i ort.IOInfo) string {
		if len(i.DimNames) > 0 {
			return i.DimNames[0]
		}
		return ""
	}
	return name(s) != "" && name(e) != "" && name(s) != name(e)
}

// repeatRows repeats each row (first-axis entry) of t n times in place,
// as torch's repeat_interleave(n, dim=0).
func repeatRows(t ort.Tensor, n int) ort.Tensor {
	rows := int(t.Shape[0])
	per := len(t.F32) / rows
	out := make([]float32, 0, len(t.F32)*n)
	for r := range rows {
		for range n {
			out = append(out, t.F32[r*per:(r+1)*per]...)
		}
	}
	shape := append([]int64{t.Shape[0] * int64(n)}, t.Shape[1:]...)
	return ort.Tensor{Shape: shape, F32: out}
}
