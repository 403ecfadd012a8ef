// Package detect tells generated pictures from real ones.
//
// Two kinds of detector share one interface ([Detector]):
//
//   - the built-in passive detector ([Builtin]): frequency-artifact
//     features of a picture ([Features]: the azimuthally averaged log power
//     spectrum and statistics of its 8x8 block DCT coefficients) scored by
//     a small classifier trained in Go ([Train]: one tanh hidden layer, or
//     none for a logistic regression) on real renders of the shapes
//     dataset and the outputs of imagegen's built-in families, clean and
//     after JPEG 75 (scripts/train_detector);
//   - public classifier exports ([OpenONNX]): an ONNX model with a
//     pixel_values (or single unnamed 3xHxW) input in [0, 1] and a 2-logit
//     output, with the label order from the folder's config.json and the
//     resizing and normalization from its preprocessor_config.json.
//
// [AveragePrecision] is the measure the training script reports per
// family, on clean pictures and after JPEG compression ([JPEG]).
//
// It is not a forensic tool for arbitrary photographs: the built-in
// detector knows only 32x32 shapes pictures and imagegen's own families,
// and a public detector is only as good as its training.
package detect
