package builtin_test

import (
	"fmt"

	"github.com/imagegen/imagegen/builtin"
)

// Example lists the built-in models and what runs them.
func Example() {
	for _, m := range builtin.All() {
		fmt.Println(builtin.Scheme+m.Name, m.Family, m.Commands)
	}
	if _, err := builtin.ByName("builtin:teleport"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// builtin:default sd [generate eval]
	// builtin:vae vae [generate eval --likelihood]
	// builtin:vqvae vqvae [encode decode]
	// builtin:gan gan [generate eval]
	// builtin:flow flow [generate --temperature encode decode eval --likelihood]
	// builtin:vqgpt vqgpt [generate eval]
	// builtin:pixelcnn pixelcnn [generate eval --likelihood]
	// builtin:ddpm sd [generate --classifier-scale eval --classifier-scale]
	// builtin:video animatediff [generate --frames --fps]
	// builtin:lcm sd [generate eval]
	// builtin:dit sd [generate eval]
	// builtin:dit-1step sd [generate eval]
	// builtin:dit-4step sd [generate eval]
	// builtin:sr upscale [upscale generate (builtin:default at 128x128)]
	// builtin: unknown model "teleport" (built-in models: default, vae, vqvae, gan, flow, vqgpt, pixelcnn, ddpm, video, lcm, dit, dit-1step, dit-4step, sr)
}
