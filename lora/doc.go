// Package lora reads LoRA files and merges them into the weights of ONNX
// models on the host, so ONNX Runtime runs the merged model without a
// re-export and without anything written to disk.
//
// Load reads kohya / AUTOMATIC1111 files (lora_unet_…, lora_te_…,
// lora_te1_/lora_te2_ keys with lora_up, lora_down and alpha) and
// diffusers / PEFT files (…lora_A / …lora_B, …lora.down / …lora.up),
// each low-rank pair becoming an Adapter for one module of one component.
// Merge finds each adapter's weight in an exported graph through the
// module path PyTorch's exporter writes into node names
// (/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul),
// adds scale·alpha/rank·up·down to it (Linear layers, whose MatMul weights
// are stored transposed, and 1×1 and 3×3 convolutions) and points the node
// at the merged copy, leaving the original initializer untouched.
//
// LyCORIS's LoHa (Hadamard product of two low-rank pairs) and LoKr
// (Kronecker product of two factors, each whole or low-rank) are merged
// the same way, as AUTOMATIC1111 applies them (lycoris.go). Tucker-
// decomposed convolutions (hada_t1/t2, lokr_t2, LoCon's mid tensors) are
// not supported: their keys are reported as unknown.
package lora
