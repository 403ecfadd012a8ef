// Package builtin is the registry of the models embedded in the imagegen
// binary, addressed as `--model builtin:NAME`: the default text-to-image
// model (package defaultmodel) and one model per family of the history of
// image generation that imagegen trains itself on the shapes dataset
// (scripts/train_*), such as builtin:vae and builtin:vqvae.
//
// Each model is an ordinary checkpoint folder (model_index.json naming its
// family pipeline, one subfolder per ONNX component); [Model.Dir] writes it
// once into the user's cache, under a name carrying its content hash, for
// package pipeline to load. [Model.Stats] counts its parameters and bytes
// for `imagegen models`.
//
// The package runs no model and trains none; it only knows what the binary
// holds.
package builtin
