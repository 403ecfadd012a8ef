// Package convert turns PyTorch checkpoints into ONNX checkpoint folders
// without Python: a diffusers folder (unet/diffusion_pytorch_model
// .safetensors, vae/…, text_encoder/model.safetensors with their
// config.json) or a single-file checkpoint in the original
// (CompVis / AUTOMATIC1111) key layout is read into diffusers state dicts,
// loaded into the Go network library's graphs (package onnx_export, whose
// parameters carry diffusers' names) and written as an Optimum folder with
// the tokenizer and scheduler files.
//
// It covers SD 1.x, SD 2.x and SDXL base (UNet2DConditionModel with
// SDXL's text_time embedding, AutoencoderKL, CLIPTextModel and
// CLIPTextModelWithProjection; OpenCLIP text towers in single files are
// renamed and their fused attention split). A single file's architecture
// is read off its tensors' shapes (infer.go says which rules fill in what
// shapes cannot say). Other architectures (SDXL refiner, inpainting
// variants of SDXL, LCM, ControlNet) are refused with a clear error. It
// does not download anything: a single-file checkpoint holds no
// tokenizer, so its caller names a tokenizer folder.
package convert
