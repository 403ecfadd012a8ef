package ort

import (
	"errors"
	"fmt"
)

// ErrNoKernel is returned (wrapped) by Open and OpenBytes for a model with
// a quantized operator (the com.microsoft.MatMulNBits that `imagegen
// quantize` writes, or ONNX's integer operators) that neither the
// session's execution provider nor the CPU provider behind it implements
// for the model's types and attributes.
var ErrNoKernel = errors.New("no kernel for a quantized operator")

// quantizedOps are the operators of weight- and activation-quantized
// models; a missing kernel for one of them is a quantization that this
// runtime and device cannot run, not a CUDA-only export.
var quantizedOps = map[string]bool{
	"MatMulNBits": true, "MatMulInteger": true, "MatMulIntegerToFloat": true, "ConvInteger": true,
	"QLinearConv": true, "QLinearMatMul": true, "DynamicQuantizeLinear": true, "DynamicQuantizeMatMul": true,
}

// kernelError names the operator and the device when ONNX Runtime found
// no kernel for a node; other errors pass through.
func kernelError(err error, dev Device) error {
	if err == nil {
		return nil
	}
	if m := missingKernel.FindStringSubmatch(err.Error()); m != nil && quantizedOps[m[1]] {
		return fmt.Errorf("%w: %s on device %s in ONNX Runtime %s (its CPU provider runs MatMulNBits with 4 or 8 bits and float32 or float16 activations, as `imagegen quantize` writes it); use --device cpu or the unquantized checkpoint (ONNX Runtime: %s)",
			ErrNoKernel, m[1], dev, Version(), firstLine(err.Error()))
	}
	return cudaOnlyError(err, dev)
}
