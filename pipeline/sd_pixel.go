package pipeline

import (
	"errors"
	"math"
	"path/filepath"
)

// errNoClassifier is the bad request of a classifier scale on a checkpoint
// without a classifier component.
var errNoClassifier = badRequest("classifier guidance needs a checkpoint with a noise-conditional classifier (%s/model.onnx), such as builtin:ddpm; this one has none", classifierFolder)

// classifierGuided is implemented by the families that can apply
// Request.ClassifierScale.
type classifierGuided interface {
	hasClassifier() bool
}

// checkClassifierScale refuses a classifier scale that is negative or not
// finite, or that impl's checkpoint has no classifier for.
func checkClassifierScale(impl familyPipeline, s float64) error {
	if s == 0 {
		return nil
	}
	if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return badRequest("classifier scale must be a finite number ≥ 0, got %v", s)
	}
	if g, ok := impl.(classifierGuided); !ok || !g.hasClassifier() {
		return errNoClassifier
	}
	return nil
}

// decoderComponents lists the folders that turn the denoiser's sample
// into a picture: none in pixel space.
func (p *diffusionPipeline) decoderComponents() []string {
	if p.pixel {
		return nil
	}
	return []string{"vae_decoder"}
}

// readVAEConfig reads vae_decoder/config.json and sets the VAE factor; a
// pixel-space checkpoint has the identity in its place (factor 1, scaling
// 1, three channels).
func (p *diffusionPipeline) readVAEConfig() error {
	if p.pixel {
		p.vae = vaeConfig{ScalingFactor: 1, LatentChannels: 3}
		p.vaeScale = 1
		return nil
	}
	vaeCfg := filepath.Join(p.dir, "vae_decoder", "config.json")
	if err := readJSON(vaeCfg, &p.vae); err != nil {
		return err
	}
	p.vae.fillFamilyDefaults(p.family, fileExists(vaeCfg))
	p.vaeScale = 8
	if n := len(p.vae.BlockOutChannels); n > 0 {
		p.vaeScale = 1 << (n - 1)
	}
	return nil
}

// pixelsToImages is decode for a pixel-space checkpoint: the samples are
// the pictures, clamp((x + 1) / 2).
func (p *diffusionPipeline) pixelsToImages(r *run, x []float32, res *Result) error {
	per := r.channels * r.lh * r.lw
	if r.channels != 3 {
		return errors.New("pipeline: a pixel-space denoiser must give 3 channels")
	}
	hw3 := r.lh * r.lw * 3
	for b := 0; b < r.batch; b++ {
		if err := decodedToImage(res.Images[b*hw3:(b+1)*hw3], x[b*per:(b+1)*per], r.lh, r.lw, r.q.Watermark); err != nil {
			return err
		}
	}
	return nil
}
