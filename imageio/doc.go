// Package imageio moves pictures and tensors between imagegen's pipelines
// and files, byte for byte the way diffusers and its users expect them.
//
// It covers:
//   - PNG output with AUTOMATIC1111-style "parameters" text and an iTXt
//     JSON record of the run (WritePNG, EncodePNG, GenerationParams), and
//     reading that text back (ReadPNGText, DecodePNGText);
//   - the float-to-pixel conversion of diffusers' VaeImageProcessor and
//     numpy_to_pil (Postprocess, ToUint8, ToNRGBA);
//   - loading init images and inpainting masks into float32 NCHW tensors
//     (LoadImage, LoadMask, ImageTensor, MaskTensor);
//   - .npy files of float32 arrays (WriteNPY, ReadNPY, SaveNPY, LoadNPY);
//   - atomic file replacement (WriteFileAtomic), which every Save and Write
//     function here uses, so a reader never sees a half-written file.
//
// It is not an image-processing library: it does no colour management
// beyond tagging output as sRGB, and its resampling (Lanczos-3 through
// golang.org/x/image/draw) approximates PIL's rather than reproducing it.
package imageio
