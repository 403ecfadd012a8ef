// Package rng reproduces PyTorch's CPU random number generator, so that a
// seed given to imagegen draws the same initial latents and the same
// per-step noise as torch.Generator("cpu").manual_seed(seed) does in
// diffusers.
//
// A Generator is a Mersenne Twister (mt19937) seeded the way ATen seeds it
// (only the low 32 bits of the seed reach the state), with the same mapping
// from 32- and 64-bit draws to floats and the same two Box-Muller code paths
// torch.randn takes for a float32 tensor: blocks of 16 for tensors of 16 or
// more elements, and a double-precision sampler with a cached second sample
// for smaller ones. PyTorch has two kernels for the blocks of 16 (see
// Kernel): the AVX2 one, the default here, is reproduced bit for bit; the
// portable one to within one float32 unit, because glibc's sinf and cosf
// round a few results in a thousand the other way.
//
// The package is not a general-purpose or cryptographic random source, and
// it does not model CUDA generators (Philox), which draw different numbers
// for the same seed.
package rng
