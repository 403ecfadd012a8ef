// Package upscale runs super-resolution models exported to ONNX in the
// Real-ESRGAN form: one input [1, 3, H, W] of RGB in [0, 1] and one output
// [1, 3, s·H, s·W], for an integer scale s read from the declared shapes
// (or, when they are symbolic, from a probe run on a small picture).
//
// Fixed-size exports (say 128×128 → 512×512) run tile by tile; dynamic
// ones run the whole picture at once unless a tile size is asked for (to
// bound memory). Tiles overlap and are blended with feathered weights
// (package internal/tiling), so no seam shows; a picture smaller than a
// tile is padded by reflection and the padding cropped from the output.
//
// It also runs diffusion super-resolution stages (StageClass folders such
// as builtin:sr, written by scripts/train_sr): a denoiser that reads the
// noise-augmented low-resolution picture, sampled in a few DDIM steps from
// seeded noise, on pictures of its input size only.
//
// Pictures with alpha or in grey are converted to RGB; the output is
// opaque RGB. The package does not resize to arbitrary sizes or denoise;
// chaining a stage after a text-to-image checkpoint (a cascade) is package
// pipeline's (pipeline.Cascade).
package upscale
