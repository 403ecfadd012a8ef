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
// Pictures with alpha or in grey are converted to RGB; the output is
// opaque RGB. The package does not resize to arbitrary sizes, denoise, or
// run the SR cascades of diffusion models (those are pipelines).
package upscale
