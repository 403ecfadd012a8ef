package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// The training noise schedule: DDPM's linear betas from 1e-4 to 0.02 over
// 1000 steps (builtin:default's, beta_schedule "linear").
const (
	betaStart  = 1e-4
	betaEnd    = 0.02
	trainSteps = 1000
	// uncondRate is the share of captions replaced by "" so that the
	// model also learns the unconditional prediction classifier-free
	// guidance needs.
	uncondRate = 0.1
)

// alphasCumprod returns ᾱ_t of the training schedule.
func alphasCumprod() []float64 {
	ac := make([]float64, trainSteps)
	prod := 1.0
	for i := range ac {
		prod *= 1 - (betaStart + (betaEnd-betaStart)*float64(i)/(trainSteps-1))
		ac[i] = prod
	}
	return ac
}

// imageToCHW writes an NRGBA picture as [3,S,S] floats in [-1, 1].
func imageToCHW(pix []uint8, stride int, dst []float32) {
	for y := range imageSize {
		for x := range imageSize {
			for c := range 3 {
				dst[(c*imageSize+y)*imageSize+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
			}
		}
	}
}

// sqrtAC returns √ᾱ and √(1−ᾱ).
func sqrtAC(ac float64) (a, s float64) { return math.Sqrt(ac), math.Sqrt(1 - ac) }

// noise writes x_t = √ᾱ·x0 + √(1−ᾱ)·ε into xt and ε into eps, for a
// timestep drawn uniformly, and returns the timestep.
func noise(rng *rand.Rand, ac []float64, x0, xt, eps []float32) int {
	t := rng.IntN(len(ac))
	noiseAt(rng, ac, t, x0, xt, eps)
	return t
}

// noiseAt is noise at timestep t.
func noiseAt(rng *rand.Rand, ac []float64, t int, x0, xt, eps []float32) {
	a, s := sqrtAC(ac[t])
	for k, v := range x0 {
		e := rng.NormFloat64()
		eps[k] = float32(e)
		xt[k] = float32(a*float64(v) + s*e)
	}
}

// noisedPictures is the denoiser's dataset: the training pictures, drawn
// when asked, with the frozen text encoder's hidden states of their
// captions (10% replaced by those of ""), noised at a uniform timestep;
// the target is the noise.
type noisedPictures struct {
	pics                shapes.Dataset
	hidden, emptyHidden []float32 // [n, contextLength·textWidth], [contextLength·textWidth]
	ac                  []float64
	x0                  []float32
}

func (d *noisedPictures) Len() int { return len(d.hidden) / len(d.emptyHidden) }

func (d *noisedPictures) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	hd := len(d.emptyHidden)
	if len(dst) != 4 || len(dst[0].F32) != hd || len(dst[1].F32) != 3*imageSize*imageSize {
		return fmt.Errorf("noised pictures: unexpected batch layout")
	}
	s, err := d.pics.Sample(i)
	if err != nil {
		return err
	}
	if d.x0 == nil {
		d.x0 = make([]float32, 3*imageSize*imageSize)
	}
	imageToCHW(s.Image.Pix, s.Image.Stride, d.x0)
	if rng.Float64() < uncondRate {
		copy(dst[0].F32, d.emptyHidden)
	} else {
		copy(dst[0].F32, d.hidden[i*hd:(i+1)*hd])
	}
	dst[2].F32[0] = float32(noise(rng, d.ac, d.x0, dst[1].F32, dst[3].F32))
	return nil
}
