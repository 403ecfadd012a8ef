package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// The diffusion schedule (DDPM's linear betas, builtin:default's) serves
// both the sample's noise and the low-resolution picture's augmentation,
// as SD x4 upscaler's low_res_scheduler does.
const (
	betaStart  = 1e-4
	betaEnd    = 0.02
	trainSteps = 1000
)

// alphasCumprod returns ᾱ_t of the schedule.
func alphasCumprod() []float64 {
	ac := make([]float64, trainSteps)
	prod := 1.0
	for i := range ac {
		prod *= 1 - (betaStart + (betaEnd-betaStart)*float64(i)/(trainSteps-1))
		ac[i] = prod
	}
	return ac
}

// toCHW writes an NRGBA picture of side n as [3,n,n] floats in [-1, 1].
func toCHW(pix []uint8, stride, n int, dst []float32) {
	for y := range n {
		for x := range n {
			for c := range 3 {
				dst[(c*n+y)*n+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
			}
		}
	}
}

// cropPairs is the stage's dataset: training scenes drawn at 128x128 (the
// target) and at 32x32 (the low-resolution picture: the renderer's own,
// which the base model learned to draw), a random aligned crop of both
// (crop x crop low-resolution pixels), the low-resolution crop noised at
// an augmentation level drawn uniformly in [0, maxLevel], and the sample
// noised at a uniform timestep; the target is the clean crop (sample
// prediction) or v (v-prediction).
type cropPairs struct {
	n, crop, maxLevel int
	vTarget           bool
	ac                []float64
	hi, lo            []float32 // scratch: whole pictures
}

func (d *cropPairs) Len() int { return d.n }

func (d *cropPairs) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	c, hc := d.crop, d.crop*factor
	if len(dst) != 5 || len(dst[0].F32) != 3*hc*hc || len(dst[1].F32) != 3*c*c {
		return fmt.Errorf("crop pairs: unexpected batch layout")
	}
	hs, err := shapes.Dataset{Split: shapes.Train, Size: highSize}.Sample(i)
	if err != nil {
		return err
	}
	ls, err := shapes.Dataset{Split: shapes.Train, Size: lowSize}.Sample(i)
	if err != nil {
		return err
	}
	if d.hi == nil {
		d.hi, d.lo = make([]float32, 3*highSize*highSize), make([]float32, 3*lowSize*lowSize)
	}
	toCHW(hs.Image.Pix, hs.Image.Stride, highSize, d.hi)
	toCHW(ls.Image.Pix, ls.Image.Stride, lowSize, d.lo)
	cy, cx := rng.IntN(lowSize-c+1), rng.IntN(lowSize-c+1)
	level := rng.IntN(d.maxLevel + 1)
	la, ls2 := math.Sqrt(d.ac[level]), math.Sqrt(1-d.ac[level])
	for ch := range 3 {
		for y := range c {
			for x := range c {
				v := d.lo[(ch*lowSize+cy+y)*lowSize+cx+x]
				dst[1].F32[(ch*c+y)*c+x] = float32(la*float64(v) + ls2*rng.NormFloat64())
			}
		}
	}
	t := rng.IntN(trainSteps)
	a, s := math.Sqrt(d.ac[t]), math.Sqrt(1-d.ac[t])
	for ch := range 3 {
		for y := range hc {
			for x := range hc {
				x0 := float64(d.hi[(ch*highSize+factor*cy+y)*highSize+factor*cx+x])
				e := rng.NormFloat64()
				k := (ch*hc+y)*hc + x
				dst[0].F32[k] = float32(a*x0 + s*e)
				if d.vTarget {
					dst[4].F32[k] = float32(a*e - s*x0)
				} else {
					dst[4].F32[k] = float32(x0)
				}
			}
		}
	}
	dst[2].F32[0] = float32(t)
	dst[3].F32[0] = float32(level)
	return nil
}
