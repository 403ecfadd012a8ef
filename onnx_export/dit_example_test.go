package onnxexport_test

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// A text-conditioned DiT has a UNet's inputs and output, so the
// latent-diffusion pipeline runs it where it runs a UNet; its adaLN
// projections and final layer start at zero (adaLN-Zero; the other zero
// tensors are the cross-attention LayerNorms' biases).
func ExampleNewDiTGraph() {
	cfg := onnxexport.DiTConfig{InChannels: 4, Size: 16, Patch: 2, Hidden: 32, Depth: 2, Heads: 2, ContextDim: 8}
	b := onnxexport.NewDiTGraph(cfg, 1)
	for _, in := range b.Inputs() {
		fmt.Println(in.Name(), in.Shape())
	}
	zero := 0
	for _, p := range b.Params() {
		allZero := true
		for _, v := range p.Tensor.Float32 {
			allZero = allZero && v == 0
		}
		if allZero {
			zero++
		}
	}
	fmt.Println(len(b.Params()), "parameters,", zero, "of them zero at the start;", b.Err())
	// Output:
	// sample [batch_size,4,16,16]
	// timestep [batch_size]
	// encoder_hidden_states [batch_size,sequence_length,8]
	// 51 parameters, 10 of them zero at the start; <nil>
}

func ExampleDiTConfig_Validate() {
	for _, c := range []onnxexport.DiTConfig{
		{InChannels: 4, Size: 16, Patch: 2, Hidden: 32, Depth: 2, Heads: 2, ContextDim: 8},
		{InChannels: 4, Size: 15, Patch: 2, Hidden: 32, Depth: 2, Heads: 2},
		{InChannels: 4, Size: 16, Patch: 2, Hidden: 32, Depth: 2, Heads: 2, ContextDim: -1},
	} {
		_, err := onnxexport.NewDiTGraph(c, 1).Build()
		fmt.Println(c.Size, c.ContextDim, err != nil)
	}
	// Output:
	// 16 8 false
	// 15 0 true
	// 16 -1 true
}
