package rng_test

import (
	"fmt"

	"github.com/imagegen/imagegen/rng"
)

// The first values of torch.randn(1, 4, 8, 8,
// generator=torch.Generator().manual_seed(0)).
func ExampleGenerator_Randn() {
	g := rng.New(0)
	latents := make([]float32, 1*4*8*8)
	g.Randn(latents)
	fmt.Printf("%.4f %.4f %.4f\n", latents[0], latents[1], latents[2])
	// Output: -1.1258 -1.1524 -0.2506
}

// Fewer than 16 values come from PyTorch's double-precision sampler, which
// keeps the second Box-Muller sample for the next call.
func ExampleGenerator_Randn_small() {
	g := rng.New(42)
	a := make([]float32, 1)
	b := make([]float32, 1)
	g.Randn(a)
	g.Randn(b)
	fmt.Printf("%.4f %.4f\n", a[0], b[0])
	// Output: 0.3367 0.1288
}

func ExampleGenerator_Rand() {
	g := rng.New(42)
	u := make([]float32, 3)
	g.Rand(u)
	fmt.Printf("%.4f %.4f %.4f\n", u[0], u[1], u[2])
	// Output: 0.8823 0.9150 0.3829
}
