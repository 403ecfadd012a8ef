// Package quantize writes a weight-only quantized copy of an ONNX
// checkpoint folder: the constant MatMul and Gemm weights of each
// component become 8- or 4-bit codes with a float scale and zero point per
// block, run by ONNX Runtime's com.microsoft.MatMulNBits (the graph pass
// is internal/graphopt's QuantizeMatMul). Everything else (model_index.json,
// configs, tokenizer, scheduler, components left out) is copied, so the
// result is an ordinary checkpoint that pipeline.Load opens.
//
// It is not activation quantization: pictures are computed in float, only
// the stored weights and the memory they take shrink. Convolution weights
// stay float: ONNX Runtime's int8 convolutions (ConvInteger, QLinearConv)
// quantize activations too (see the README's Quantization section).
package quantize
