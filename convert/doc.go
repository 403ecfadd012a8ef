// Package convert turns PyTorch checkpoints into ONNX checkpoint folders
// without Python: a diffusers folder (unet/diffusion_pytorch_model
// .safetensors, vae/…, text_encoder/model.safetensors with their
// config.json) or a single-file checkpoint in the original
// (CompVis / AUTOMATIC1111) key layout is read into diffusers state dicts,
// loaded into the Go network library's graphs (package onnx_export, whose
// parameters carry diffusers' names) and written as an Optimum folder with
// the tokenizer and scheduler files.
//
// It covers the SD 1.x architecture family (UNet2DConditionModel,
// AutoencoderKL, CLIPTextModel); other architectures are refused with a
// clear error. It does not download anything: a single-file checkpoint
// holds no tokenizer, so its caller names a tokenizer folder.
package convert
