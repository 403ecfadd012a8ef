// Package watermark reads and writes the invisible watermarks of
// invisible-watermark 0.2.0 (the Python imwatermark package), bit for bit
// and pixel for pixel as that library does: its "dwtDct" method, which
// diffusers' StableDiffusionXLWatermarker stamps on every SDXL output,
// and its "dwtDctSvd" method.
//
// Encode and Decode work on 8-bit pictures as the library's
// WatermarkEncoder and WatermarkDecoder do on a cv2 BGR array; ApplySDXL
// marks float pictures the way diffusers does before post-processing,
// with the 48-bit SDXLBits payload. ParseHex, FormatHex and Compare
// handle payloads and score a detection (bit accuracy and the binomial
// p-value of that many matching bits by chance).
//
// Compatibility here means reproducing the library, quirks included: it
// decodes its own mark exactly on only some pictures, its marks do not
// survive much JPEG compression, and it changes most pixels of a picture
// (it swaps the Haar details on the way back). What the library reads,
// Decode reads; the package is not a robust watermark of imagegen's own,
// and it does not implement the library's neural "rivaGan" method.
//
// How the library computes, and where this package follows it:
//   - colour: OpenCV's BGR<->YUV conversion, 14-bit fixed point for bytes,
//     float32 with a chroma offset of 0.5 for float pictures (color.go);
//   - transform: one level of PyWavelets' Haar DWT of the U plane, its
//     rows and columns cut down to multiples of 4, in float64 for bytes
//     and float32 for float pictures, operation for operation (haar.go);
//   - blocks: 4x4 blocks of the approximation in row-major order, block i
//     carrying bit i mod n; a quantization step of 36 (maxcoef.go, svd.go);
//   - the inverse transform is truncated to bytes, wrapping out-of-range
//     values as numpy's cast does.
package watermark
