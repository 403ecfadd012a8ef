package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"

	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// pictures is the VAE's dataset: shapes training pictures as CHW floats in
// [-1, 1], with the reparameterization noise drawn from the trainer's RNG.
type pictures struct {
	n    int
	data shapes.Dataset
}

func (d pictures) Len() int { return d.n }

func (d pictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	s, err := d.data.Sample(i)
	if err != nil {
		return err
	}
	imageToCHW(s.Image.Pix, s.Image.Stride, imageSize, dst[0].F32)
	for k := range dst[1].F32 {
		dst[1].F32[k] = float32(rng.NormFloat64())
	}
	return nil
}

// imageToCHW writes an NRGBA picture as [3,S,S] floats in [-1, 1].
func imageToCHW(pix []uint8, stride, size int, dst []float32) {
	for y := range size {
		for x := range size {
			for c := range 3 {
				dst[(c*size+y)*size+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
			}
		}
	}
}

// ddpmAlphasCumprod is the training noise schedule: DDPM's linear betas
// from 1e-4 to 0.02 over 1000 steps (beta_schedule "linear" in
// scheduler_config.json). Its last ᾱ is 4e-5, so the sampler starts from
// almost pure noise, which matters at 8x8 latents where SD's
// scaled_linear schedule leaves a visible trace of the picture.
func ddpmAlphasCumprod() []float64 {
	const steps = 1000
	ac := make([]float64, steps)
	prod := 1.0
	for i := range ac {
		beta := betaStart + (betaEnd-betaStart)*float64(i)/(steps-1)
		prod *= 1 - beta
		ac[i] = prod
	}
	return ac
}

const (
	betaStart = 1e-4
	betaEnd   = 0.02
	// uncondRate is the share of captions replaced by "" so that the model
	// also learns the unconditional prediction classifier-free guidance
	// needs.
	uncondRate = 0.1
)

// noisedLatents is the denoiser's dataset: precomputed scaled latents of
// the training pictures with their token ids, noised at a uniform
// timestep with noise from the trainer's RNG; the target is the noise.
type noisedLatents struct {
	latents []float32 // [n, latentLen], already times the scaling factor
	ids     []int64   // [n, contextLength]
	emptyID []int64   // the ids of ""
	// hidden, when set, holds the frozen text encoder's last hidden
	// states [n, contextLength, D], given instead of the ids, and
	// emptyHidden those of "".
	hidden, emptyHidden []float32
	per                 int
	ac                  []float64
	// vPred makes the target v = √ᾱ·ε − √(1−ᾱ)·x0 instead of ε.
	vPred bool
	// gamma > 0 weighs each example with Min-SNR-γ; 0 weighs all alike.
	gamma float64
	// order, when set, maps example numbers to pictures, listing some
	// pictures more than once to oversample them.
	order []int
}

func (d *noisedLatents) Len() int {
	if d.order != nil {
		return len(d.order)
	}
	return len(d.ids) / contextLength
}

func (d *noisedLatents) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if d.order != nil {
		i = d.order[i]
	}
	hd := len(d.emptyHidden)
	if len(dst) != 5 || len(dst[1].F32) != d.per || (d.hidden == nil && len(dst[0].I64) != contextLength) || (d.hidden != nil && len(dst[0].F32) != hd) {
		return fmt.Errorf("noised latents: unexpected batch layout")
	}
	empty := rng.Float64() < uncondRate
	switch {
	case d.hidden != nil && empty:
		copy(dst[0].F32, d.emptyHidden)
	case d.hidden != nil:
		copy(dst[0].F32, d.hidden[i*hd:(i+1)*hd])
	case empty:
		copy(dst[0].I64, d.emptyID)
	default:
		copy(dst[0].I64, d.ids[i*contextLength:(i+1)*contextLength])
	}
	t := rng.IntN(len(d.ac))
	a, s := math.Sqrt(d.ac[t]), math.Sqrt(1-d.ac[t])
	dst[2].F32[0] = float32(t)
	x0 := d.latents[i*d.per : (i+1)*d.per]
	for k := range x0 {
		eps := rng.NormFloat64()
		dst[3].F32[k] = float32(eps)
		if d.vPred {
			dst[3].F32[k] = float32(a*eps - s*float64(x0[k]))
		}
		dst[1].F32[k] = float32(a*float64(x0[k]) + s*eps)
	}
	dst[4].F32[0] = 1
	if d.gamma > 0 {
		snr := d.ac[t] / (1 - d.ac[t])
		if d.vPred {
			dst[4].F32[0] = float32(min(snr, d.gamma) / (snr + 1))
		} else {
			dst[4].F32[0] = float32(min(snr, d.gamma) / snr)
		}
	}
	return nil
}

// repeatOrder lists pictures 0..n-1, those for which oversample is true
// repeat times, the rest once.
func repeatOrder(n, repeat int, oversample func(i int) bool) []int {
	order := make([]int, 0, n)
	for i := range n {
		k := 1
		if oversample(i) {
			k = max(1, repeat)
		}
		for range k {
			order = append(order, i)
		}
	}
	return order
}

// encodeIDs tokenizes text padded to contextLength, as the pipeline does.
func encodeIDs(tok tokenizer.Tokenizer, text string) []int64 {
	ids := tok.EncodePadded(text, contextLength)
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}
