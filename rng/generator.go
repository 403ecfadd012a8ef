package rng

import (
	"errors"
	"fmt"
	"math"
)

// Kernel selects which of PyTorch's CPU randn kernels a Generator follows
// for tensors of 16 or more elements. The kernels draw the same uniforms
// but round the Box-Muller transform differently, so their samples differ
// by up to a few 1e-6; smaller tensors and Rand are the same under both.
type Kernel int

const (
	// KernelAVX2 follows normal_fill_16_AVX2, which PyTorch runs on x86
	// CPUs with AVX2: float32 Cephes logarithm, sine and cosine. It is the
	// default because diffusers' reference outputs are made on such CPUs.
	KernelAVX2 Kernel = iota
	// KernelPortable follows the portable normal_fill_16, which PyTorch
	// runs where no vector kernel applies (ARM CPUs, x86 without AVX2, or
	// ATEN_CPU_CAPABILITY=default): C library logf, sinf and cosf on a
	// double-precision angle.
	KernelPortable
)

// String returns the kernel's name as ATEN_CPU_CAPABILITY spells it.
func (k Kernel) String() string {
	switch k {
	case KernelAVX2:
		return "avx2"
	case KernelPortable:
		return "default"
	}
	return fmt.Sprintf("Kernel(%d)", int(k))
}

// ErrUnknownKernel is returned by NewWithKernel for a Kernel value that is
// not one of the constants above.
var ErrUnknownKernel = errors.New("rng: unknown kernel")

// Generator is one PyTorch CPU generator: a Mersenne Twister plus the cached
// second Box-Muller sample of the double-precision normal sampler. Each
// Generator owns its state; a Generator is not safe for concurrent use.
type Generator struct {
	mt     mt19937
	seed   uint64
	kernel Kernel

	// nextNormal holds the unused sine half of the last double-precision
	// Box-Muller pair, as CPUGeneratorImpl's next_double_normal_sample does.
	nextNormal    float64
	hasNextNormal bool
}

// New returns a generator in the state torch.Generator("cpu").manual_seed(seed)
// leaves it in. Only the low 32 bits of seed reach the twister, as in
// PyTorch, so seeds that differ only above bit 31 draw the same numbers.
func New(seed uint64) *Generator {
	g := &Generator{}
	g.Seed(seed)
	return g
}

// NewWithKernel is New with the randn kernel chosen explicitly; it returns
// ErrUnknownKernel for an undefined kernel.
func NewWithKernel(seed uint64, k Kernel) (*Generator, error) {
	if k != KernelAVX2 && k != KernelPortable {
		return nil, fmt.Errorf("%w %d", ErrUnknownKernel, int(k))
	}
	g := New(seed)
	g.kernel = k
	return g, nil
}

// Kernel returns the randn kernel g follows.
func (g *Generator) Kernel() Kernel { return g.kernel }

// Seed resets g to the state New(seed) returns, dropping any cached normal
// sample, like manual_seed.
func (g *Generator) Seed(seed uint64) {
	g.mt.seed(seed)
	g.seed = seed
	g.hasNextNormal = false
	g.nextNormal = 0
}

// InitialSeed returns the seed g was last seeded with, all 64 bits of it,
// like torch.Generator.initial_seed.
func (g *Generator) InitialSeed() uint64 { return g.seed }

// random returns one 32-bit draw (CPUGeneratorImpl::random).
func (g *Generator) random() uint32 { return g.mt.uint32() }

// random64 returns two draws joined high word first
// (CPUGeneratorImpl::random64).
func (g *Generator) random64() uint64 {
	hi := g.mt.uint32()
	lo := g.mt.uint32()
	return uint64(hi)<<32 | uint64(lo)
}

const (
	float32Digits = 24 // significand bits of float32, numeric_limits<float>::digits
	float64Digits = 53 // significand bits of float64
)

// uniformFloat32 returns a float32 in [0, 1) from the low 24 bits of one
// 32-bit draw, as uniform_real_distribution<float> does; the product is
// exact.
func (g *Generator) uniformFloat32() float32 {
	const mask = 1<<float32Digits - 1
	return float32(g.random()&mask) * (1.0 / (1 << float32Digits))
}

// uniformFloat64 returns a float64 in [0, 1) from the low 53 bits of a
// 64-bit draw, as uniform_real_distribution<double> does.
func (g *Generator) uniformFloat64() float64 {
	const mask = 1<<float64Digits - 1
	return float64(g.random64()&mask) * (1.0 / (1 << float64Digits))
}

// normalFloat64 is at::normal_distribution<double> with mean 0 and standard
// deviation 1: Box-Muller over two 53-bit uniforms, returning the cosine
// half and caching the sine half for the next call.
func (g *Generator) normalFloat64() float64 {
	if g.hasNextNormal {
		g.hasNextNormal = false
		return g.nextNormal
	}
	u1 := g.uniformFloat64()
	u2 := g.uniformFloat64()
	r := math.Sqrt(-2 * math.Log1p(-u2))
	theta := 2 * math.Pi * u1
	g.nextNormal = r * math.Sin(theta)
	g.hasNextNormal = true
	return r * math.Cos(theta)
}

// Rand fills dst with uniform samples in [0, 1), drawing exactly what
// torch.rand(len(dst), generator=g) draws for a float32 tensor.
func (g *Generator) Rand(dst []float32) {
	for i := range dst {
		dst[i] = g.uniformFloat32()
	}
}

// Randn fills dst with standard normal samples, drawing exactly what
// torch.randn(shape, generator=g) draws for a contiguous float32 tensor of
// len(dst) elements; the shape itself does not matter, only its element
// count.
//
// PyTorch takes two paths. With 16 or more elements it first fills the
// whole tensor with 24-bit uniforms and turns each block of 16 into normals
// with single-precision Box-Muller (elements j and j+8 of a block share one
// pair); when the length is not a multiple of 16 it then draws 16 fresh
// uniforms into the last 16 elements and transforms them again, so the tail
// overlaps the last full block. With fewer than 16 elements each value comes
// from the double-precision sampler, whose cached second sample carries over
// between calls until the generator is reseeded.
func (g *Generator) Randn(dst []float32) {
	n := len(dst)
	if n < 16 {
		for i := range dst {
			dst[i] = float32(g.normalFloat64())
		}
		return
	}
	transform := boxMuller16AVX2
	if g.kernel == KernelPortable {
		transform = boxMuller16Portable
	}
	g.Rand(dst)
	for i := 0; i+16 <= n; i += 16 {
		transform((*[16]float32)(dst[i : i+16]))
	}
	if n%16 != 0 {
		tail := (*[16]float32)(dst[n-16:])
		g.Rand(tail[:])
		transform(tail)
	}
}
