package onnxexport_test

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// A GPT exported with a key/value cache declares onnxruntime-genai's
// inputs and outputs; the past length is a named dynamic dimension, and
// may be 0.
func ExampleNewGPTCachedGraph() {
	cfg := onnxexport.GPTConfig{Layers: 1, Width: 32, Heads: 4, VocabSize: 100, MaxPositions: 64, OutputSize: 50}
	b := onnxexport.NewGPTCachedGraph(cfg)
	if _, err := b.Build(); err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range b.Inputs() {
		fmt.Println("in ", v.Name(), v.Shape())
	}
	for _, v := range b.Outputs() {
		fmt.Println("out", v.Name(), v.Shape())
	}
	fmt.Println(b.NumParams(), "parameters")
	// Output:
	// in  input_ids [batch_size,sequence_length]
	// in  attention_mask [batch_size,total_sequence_length]
	// in  position_ids [batch_size,sequence_length]
	// in  past_key_values.0.key [batch_size,4,past_sequence_length,8]
	// in  past_key_values.0.value [batch_size,4,past_sequence_length,8]
	// out logits [batch_size,sequence_length,50]
	// out present.0.key [batch_size,4,total_sequence_length,8]
	// out present.0.value [batch_size,4,total_sequence_length,8]
	// 19666 parameters
}
