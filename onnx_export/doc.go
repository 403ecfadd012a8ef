// Package onnxexport (folder onnx_export) defines neural networks in Go and
// writes them as ONNX models, and reads ONNX models back.
//
// A Builder collects a graph as a flat list of calls: each op method checks
// element types and shapes, and the first failure is kept (a "sticky" error)
// and returned by Build, so callers check one error at the end rather than
// one per op. Values carry an element type and a shape whose dimensions are
// static where known and symbolic (named, e.g. "batch_size") where dynamic.
// Parameters are initializers named like the diffusers/transformers
// state_dict keys; Scope pushes the block name that prefixes them and that
// build errors mention.
//
// The network library (Linear, Conv2d, GroupNorm, attention, ResNet blocks,
// UNet2DConditionModel, AutoencoderKL, the CLIP text transformer) follows
// diffusers semantics, and ExportOptimum writes a Stable Diffusion folder in
// the Hugging Face Optimum layout that the pipelines load unchanged.
//
// ReadModel decodes an ONNX file (with external data) into its graph and a
// map of initializers, so trained weights can be reloaded with
// Builder.LoadParams and models inspected.
//
// Training: Builder.Gradients appends a graph's backward pass as ordinary
// ONNX ops (one rule per op, ErrNoGradient for the rest); NewTrainGraph
// turns forward pass + loss into one training step (backward, clipping,
// AdamW, EMA) whose parameters and optimizer state are inputs and outputs;
// Trainer runs it through package ort with batching, an LR schedule and
// exact-resume checkpoints. State the host keeps beside the graph (an EMA
// codebook) enters as host inputs (NewTrainGraph's host values,
// Trainer.SetHost) and leaves through the outputs the loss graph declares
// (Trainer.Aux); StopGradient cuts a value out of the backward pass.
//
// The package is not an ONNX runtime: apart from the Trainer, which hands
// its training step to package ort, it never executes a graph, and it
// implements only the ops and shape rules its networks need.
// Its generated protobuf types live in the subpackage onnxpb.
package onnxexport
