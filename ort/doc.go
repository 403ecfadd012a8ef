// Package ort is imagegen's session layer over ONNX Runtime: it loads the
// shared library once per process, opens models from files or bytes with the
// chosen execution provider (CPU or CUDA), reads each model's declared inputs
// and outputs, and runs it with inputs given as float32 or int64 data that
// are converted to whatever element type the model declares (float16,
// float32, float64, int32, int64, bool).
//
// It is the only cgo package of imagegen (through
// github.com/yalue/onnxruntime_go). It does not find or download the
// library; package ortlib does that.
//
// A GraphCache in Options keeps the graphs ONNX Runtime optimizes, so the
// second and later loads of a large model skip the optimizer and map the
// weights from the cached copy.
//
// Sessions are created once and reused; Run honours context cancellation
// through ONNX Runtime's run-level terminate flag, so a cancelled run stops
// within one operator.
package ort
