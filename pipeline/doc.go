// Package pipeline runs text-to-image, img2img and inpainting over
// checkpoints exported to ONNX in the Hugging Face Optimum / diffusers
// folder layout: Stable Diffusion 1.x/2.x, SDXL, Turbo and LCM variants,
// SD3 and Flux. It reproduces what the matching diffusers pipeline computes
// for the same prompt, sampler and seed: tokenization, text encoding,
// classifier-free guidance, the scheduler loop, and VAE decoding, around
// ONNX Runtime sessions (package ort). Video checkpoints (Stable Video
// Diffusion, AnimateDiff) run the same loop on 5-D latents and return
// their clips' frames (Result.Frames).
//
// A Pipeline is loaded once with Load and then serves any number of
// Generate calls; it owns its sessions, so two pipelines in one process do
// not interfere. It does not write files (the CLI does, with package
// imageio) and does not download checkpoints (package hub does).
package pipeline
