package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// Sizes of the built-in model this script extends: 32x32 frames, 16x16x4
// latents, 32 tokens of 128-wide text features.
const (
	imageSize      = 32
	latentChannels = 4
	latentSize     = 16
	contextLength  = 32
	textWidth      = 128
)

// DDPM's linear schedule, as the built-in model was trained on.
const (
	betaStart = 1e-4
	betaEnd   = 0.02
	// uncondRate is the share of captions replaced by "" for
	// classifier-free guidance.
	uncondRate = 0.1
)

// clipSet is the training data: per clip the VAE latents of its frames,
// [C,F,h,w] and scaled, and the frozen text encoder's hidden states of
// its caption.
type clipSet struct {
	frames      int
	latents     []float32 // [n, C, F, h, w]
	hidden      []float32 // [n, contextLength, textWidth]
	emptyHidden []float32
}

func (c *clipSet) perClip() int { return latentChannels * c.frames * latentSize * latentSize }

// phaseClips encodes the first n training clips of the moving-shapes
// dataset (frames frames at 32x32) with the built-in VAE encoder (its
// posterior mean times scaling_factor) and their captions with the
// built-in text encoder, cached in state/clips-N-F.bin.
func phaseClips(ctx context.Context, o options, n int) (*clipSet, error) {
	set := &clipSet{frames: o.frames}
	per := set.perClip()
	hd := contextLength * textWidth
	set.latents = make([]float32, n*per)
	set.hidden = make([]float32, n*hd)
	set.emptyHidden = make([]float32, hd)
	cache := filepath.Join(o.state, fmt.Sprintf("clips-%d-%d.bin", n, o.frames))
	if f, err := os.Open(cache); err == nil {
		defer f.Close()
		for _, part := range [][]float32{set.latents, set.hidden, set.emptyHidden} {
			if err := binary.Read(f, binary.LittleEndian, part); err != nil {
				return nil, fmt.Errorf("%s: %w", cache, err)
			}
		}
		return set, nil
	}
	scale, err := readScalingFactor(o.base)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(filepath.Join(o.base, "tokenizer"))
	if err != nil {
		return nil, err
	}
	sopt := ort.Options{IntraOpThreads: o.threads}
	vae, err := ort.Open(filepath.Join(o.base, "vae_encoder", "model.onnx"), sopt)
	if err != nil {
		return nil, err
	}
	defer vae.Close()
	text, err := ort.Open(filepath.Join(o.base, "text_encoder", "model.onnx"), sopt)
	if err != nil {
		return nil, err
	}
	defer text.Close()
	encodeText := func(caption string, dst []float32) error {
		ids := make([]int64, contextLength)
		for i, id := range tok.EncodePadded(caption, contextLength) {
			ids[i] = int64(id)
		}
		return text.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{1, contextLength}, I64: ids}},
			map[string]*ort.Tensor{"last_hidden_state": {Shape: []int64{1, contextLength, textWidth}, F32: dst}})
	}
	if err := encodeText("", set.emptyHidden); err != nil {
		return nil, err
	}
	F, px, lat := o.frames, imageSize*imageSize, latentSize*latentSize
	in := make([]float32, F*3*px)
	out := make([]float32, F*2*latentChannels*lat)
	ds := shapes.MotionDataset{Split: shapes.Train, Size: imageSize, Frames: F}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := ds.Sample(i)
		if err != nil {
			return nil, err
		}
		for k, fr := range s.Frames {
			imageToCHW(fr.Pix, fr.Stride, imageSize, in[k*3*px:])
		}
		err = vae.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(F), 3, imageSize, imageSize}, F32: in}},
			map[string]*ort.Tensor{"latent_parameters": {Shape: []int64{int64(F), 2 * latentChannels, latentSize, latentSize}, F32: out}})
		if err != nil {
			return nil, err
		}
		dst := set.latents[i*per : (i+1)*per]
		for k := range F {
			for c := range latentChannels {
				mean := out[(k*2*latentChannels+c)*lat:][:lat] // the posterior mean
				row := dst[(c*F+k)*lat:][:lat]
				for j, v := range mean {
					row[j] = v * float32(scale)
				}
			}
		}
		if err := encodeText(s.Caption, set.hidden[i*contextLength*textWidth:][:contextLength*textWidth]); err != nil {
			return nil, err
		}
		if (i+1)%500 == 0 {
			fmt.Printf("clips: %d of %d encoded\n", i+1, n)
		}
	}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return nil, err
	}
	tmp := cache + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	for _, part := range [][]float32{set.latents, set.hidden, set.emptyHidden} {
		if err == nil {
			err = binary.Write(f, binary.LittleEndian, part)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return set, os.Rename(tmp, cache)
}

// readScalingFactor reads the VAE's scaling_factor from base/vae_encoder.
func readScalingFactor(base string) (float64, error) {
	path := filepath.Join(base, "vae_encoder", "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var cfg struct {
		ScalingFactor float64 `json:"scaling_factor"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.ScalingFactor <= 0 {
		return 0, fmt.Errorf("%s: no scaling_factor (%v)", path, err)
	}
	return cfg.ScalingFactor, nil
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

// noisedClips is the trainer's dataset over a clipSet: each clip noised
// at one uniform DDPM timestep for all its frames, with the v target, and
// its caption's hidden states replaced by those of "" 10% of the time.
type noisedClips struct {
	set *clipSet
	ac  []float64
}

func newNoisedClips(set *clipSet) *noisedClips {
	ac := make([]float64, 1000)
	prod := 1.0
	for i := range ac {
		prod *= 1 - (betaStart + (betaEnd-betaStart)*float64(i)/float64(len(ac)-1))
		ac[i] = prod
	}
	return &noisedClips{set: set, ac: ac}
}

func (d *noisedClips) Len() int { return len(d.set.hidden) / (contextLength * textWidth) }

// Example fills the batch inputs in motionLoss's order:
// encoder_hidden_states, sample, timestep, target.
func (d *noisedClips) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	per, hd := d.set.perClip(), contextLength*textWidth
	if len(dst) != 4 || len(dst[0].F32) != hd || len(dst[1].F32) != per || len(dst[3].F32) != per {
		return fmt.Errorf("noised clips: unexpected batch layout")
	}
	if rng.Float64() < uncondRate {
		copy(dst[0].F32, d.set.emptyHidden)
	} else {
		copy(dst[0].F32, d.set.hidden[i*hd:(i+1)*hd])
	}
	t := rng.IntN(len(d.ac))
	a, s := math.Sqrt(d.ac[t]), math.Sqrt(1-d.ac[t])
	dst[2].F32[0] = float32(t)
	x0 := d.set.latents[i*per : (i+1)*per]
	for k, x := range x0 {
		eps := rng.NormFloat64()
		dst[1].F32[k] = float32(a*float64(x) + s*eps)
		dst[3].F32[k] = float32(a*eps - s*float64(x))
	}
	return nil
}
