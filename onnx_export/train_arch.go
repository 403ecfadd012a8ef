package onnxexport

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Built-in trainable architectures with synthetic data, for
// `imagegen train`, the trainer's tests and the DiT benchmark. The data are
// generated, not learned from images: they show that the training loop
// works end to end, nothing more.

// TrainArch is a small network the trainer can train out of the box: its
// inference graph, its loss graph (the same parameters, in the same
// order, from the same seed) and a synthetic dataset.
type TrainArch struct {
	Name string
	Doc  string
	// Inference builds the exported graph with random weights from seed.
	Inference func(seed uint64) *Builder
	// Loss builds forward pass and loss on a batch of the given size.
	Loss func(seed uint64, batch int64) (*Builder, *Value)
	// Data returns the synthetic dataset; seed fixes its examples.
	Data func(seed uint64) Dataset
	// Defaults for the CLI.
	Batch int64
	LR    float64
}

var trainArchs = map[string]TrainArch{
	"mlp": {
		Name: "mlp", Doc: "4→64→64→2 GELU MLP regressing y = (sin(πx₀)·x₁, x₂² − x₃) on 512 fixed points",
		Inference: func(seed uint64) *Builder {
			b := NewBuilder("mlp")
			x := b.Input("x", Float32, Sym("batch_size"), D(4))
			b.Output("y", mlpForward(NewLayers(b, seed), x))
			return b
		},
		Loss: func(seed uint64, batch int64) (*Builder, *Value) {
			b := NewBuilder("mlp")
			x := b.Input("x", Float32, D(batch), D(4))
			y := b.Input("target", Float32, D(batch), D(2))
			return b, b.MSELoss(mlpForward(NewLayers(b, seed), x), y)
		},
		Data:  func(seed uint64) Dataset { return regressionData{seed: seed, n: 512} },
		Batch: 32, LR: 3e-3,
	},
	"conv-ae": {
		Name: "conv-ae", Doc: "convolutional autoencoder 1×16×16 → 4×4×4 → 1×16×16 (stride-2 convs, nearest upsampling) on 256 synthetic shape images, MSE",
		Inference: func(seed uint64) *Builder {
			b := NewBuilder("conv-ae")
			x := b.Input("sample", Float32, Sym("batch_size"), D(1), D(16), D(16))
			b.Output("reconstruction", convAEForward(NewLayers(b, seed), x))
			return b
		},
		Loss: func(seed uint64, batch int64) (*Builder, *Value) {
			b := NewBuilder("conv-ae")
			x := b.Input("sample", Float32, D(batch), D(1), D(16), D(16))
			return b, b.MSELoss(convAEForward(NewLayers(b, seed), x), x)
		},
		Data:  func(seed uint64) Dataset { return shapeImages{seed: seed, n: 256, size: 16} },
		Batch: 16, LR: 3e-3,
	},
	"tiny-dit": {
		Name: "tiny-dit", Doc: "DiT (patch 2, 2 adaLN-Zero-style blocks, hidden 64, 4 heads) predicting the noise of 4×8×8 synthetic latents, MSE",
		Inference: func(seed uint64) *Builder { return NewDiTGraph(TinyDiTConfig(), seed) },
		Loss: func(seed uint64, batch int64) (*Builder, *Value) {
			return NewDiTLoss(TinyDiTConfig(), seed, batch, 0)
		},
		Data: func(seed uint64) Dataset {
			c := TinyDiTConfig()
			return &noisedLatents{seed: seed, n: 256, channels: c.InChannels, size: c.Size}
		},
		Batch: 16, LR: 1e-3,
	},
}

// TrainArchByName returns the built-in trainable architecture called name.
func TrainArchByName(name string) (TrainArch, error) {
	a, ok := trainArchs[name]
	if !ok {
		return TrainArch{}, fmt.Errorf("onnxexport: %w: unknown training architecture %q (have %v)", ErrArgument, name, TrainArchNames())
	}
	return a, nil
}

// TrainArchNames lists the built-in trainable architectures.
func TrainArchNames() []string {
	var names []string
	for n := range trainArchs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func mlpForward(l *Layers, x *Value) *Value {
	h := l.GELU(l.Linear("fc1", x, 64, true))
	h = l.GELU(l.Linear("fc2", h, 64, true))
	return l.Linear("fc3", h, 2, true)
}

func convAEForward(l *Layers, x *Value) *Value {
	s2 := Conv2dOptions{Stride: 2, Padding: 1}
	same := Conv2dOptions{Padding: 1}
	h := l.SiLU(l.Conv2d("encoder.conv1", x, 16, 3, s2))
	h = l.SiLU(l.Conv2d("encoder.conv2", h, 32, 3, s2))
	z := l.Conv2d("encoder.conv_out", h, 4, 1, Conv2dOptions{})
	h = l.SiLU(l.Conv2d("decoder.conv_in", z, 32, 3, same))
	h = l.SiLU(l.Conv2d("decoder.conv1", l.UpsampleNearest(h, 2), 16, 3, same))
	return l.Conv2d("decoder.conv_out", l.UpsampleNearest(h, 2), 1, 3, same)
}

// exampleRNG returns the generator of example i: examples are a pure
// function of (seed, i), so datasets need no storage.
func exampleRNG(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)*0x9e3779b97f4a7c15+1))
}

// regressionData: x ~ U(-1,1)⁴, y = (sin(πx₀)·x₁, x₂² − x₃).
type regressionData struct {
	seed uint64
	n    int
}

func (d regressionData) Len() int { return d.n }

func (d regressionData) Example(i int, _ *rand.Rand, dst []ExampleSlot) error {
	if len(dst) != 2 || len(dst[0].F32) != 4 || len(dst[1].F32) != 2 {
		return fmt.Errorf("%w: regression data fills x [4] and target [2]", ErrShape)
	}
	r := exampleRNG(d.seed, i)
	x := dst[0].F32
	for k := range x {
		x[k] = float32(2*r.Float64() - 1)
	}
	dst[1].F32[0] = float32(math.Sin(math.Pi*float64(x[0])) * float64(x[1]))
	dst[1].F32[1] = x[2]*x[2] - x[3]
	return nil
}

// shapeImages: one soft-edged disk or rectangle of random size, place and
// brightness on a dark background, values in about [-1, 1].
type shapeImages struct {
	seed    uint64
	n, size int
}

func (d shapeImages) Len() int { return d.n }

func (d shapeImages) Example(i int, _ *rand.Rand, dst []ExampleSlot) error {
	s := d.size
	if len(dst) != 1 || len(dst[0].F32) != s*s {
		return fmt.Errorf("%w: shape images fill one [1,%d,%d] sample", ErrShape, s, s)
	}
	r := exampleRNG(d.seed, i)
	cx, cy := r.Float64()*float64(s), r.Float64()*float64(s)
	rad := 2 + r.Float64()*float64(s)/4
	bright := 0.5 + r.Float64()
	disk := r.IntN(2) == 0
	for y := range s {
		for x := range s {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			dist := math.Max(math.Abs(dx), math.Abs(dy))
			if disk {
				dist = math.Hypot(dx, dy)
			}
			inside := 1 / (1 + math.Exp(2*(dist-rad))) // soft edge
			dst[0].F32[y*s+x] = float32(-0.8 + bright*inside)
		}
	}
	return nil
}

// noisedLatents: smooth random latents x₀ (a few sinusoids per channel),
// noised at a uniform DDPM timestep (linear betas 1e-4..0.02 over 1000
// steps) with noise from the trainer's RNG; the target is the noise.
type noisedLatents struct {
	seed              uint64
	n                 int
	channels, size    int64
	alphasCumprodOnce []float64
}

func (d *noisedLatents) Len() int { return d.n }

func (d *noisedLatents) alphasCumprod() []float64 {
	if d.alphasCumprodOnce == nil {
		const steps = 1000
		ac := make([]float64, steps)
		prod := 1.0
		for i := range ac {
			beta := 1e-4 + (0.02-1e-4)*float64(i)/(steps-1)
			prod *= 1 - beta
			ac[i] = prod
		}
		d.alphasCumprodOnce = ac
	}
	return d.alphasCumprodOnce
}

func (d *noisedLatents) Example(i int, rng *rand.Rand, dst []ExampleSlot) error {
	c, s := int(d.channels), int(d.size)
	if len(dst) != 3 || len(dst[0].F32) != c*s*s || len(dst[1].F32) != 1 || len(dst[2].F32) != c*s*s {
		return fmt.Errorf("%w: noised latents fill sample [%d,%d,%d], timestep [] and target", ErrShape, c, s, s)
	}
	r := exampleRNG(d.seed, i)
	x0 := dst[0].F32
	for ch := range c {
		fx, fy, ph, amp := 1+r.Float64()*2, 1+r.Float64()*2, r.Float64()*2*math.Pi, 0.5+r.Float64()
		for y := range s {
			for x := range s {
				v := amp * math.Sin(2*math.Pi*(fx*float64(x)+fy*float64(y))/float64(s)+ph)
				x0[(ch*s+y)*s+x] = float32(v)
			}
		}
	}
	ac := d.alphasCumprod()
	t := rng.IntN(len(ac))
	a, sig := math.Sqrt(ac[t]), math.Sqrt(1-ac[t])
	dst[1].F32[0] = float32(t)
	for k := range x0 {
		eps := rng.NormFloat64()
		dst[2].F32[k] = float32(eps)
		x0[k] = float32(a*float64(x0[k]) + sig*eps)
	}
	return nil
}
