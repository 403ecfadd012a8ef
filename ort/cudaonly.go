package ort

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrCUDAOnly is returned (wrapped) by Open and OpenBytes for a model that
// uses an operator ONNX Runtime implements for CUDA only, on a session
// that runs on the CPU. Exports optimized for NVIDIA GPUs (Olive's, ONNX
// Runtime's own optimize_pipeline with --use_gpu) fuse such operators in.
var ErrCUDAOnly = errors.New("operator has no CPU implementation in ONNX Runtime")

// cudaOnlyOps are the com.microsoft contrib operators that diffusion
// exports optimized for CUDA contain and that have no CPU kernel. Any
// other such operator is still caught from ONNX Runtime's own error (see
// cudaOnlyError).
var cudaOnlyOps = map[Op]bool{
	{"com.microsoft", "GroupNorm"}:                true,
	{"com.microsoft", "SkipGroupNorm"}:            true,
	{"com.microsoft", "BiasSplitGelu"}:            true,
	{"com.microsoft", "BiasAdd"}:                  true,
	{"com.microsoft", "NhwcConv"}:                 true,
	{"com.microsoft", "PackedAttention"}:          true,
	{"com.microsoft", "PackedMultiHeadAttention"}: true,
	{"com.microsoft", "RemovePadding"}:            true,
	{"com.microsoft", "RestorePadding"}:           true,
	{"com.microsoft", "GemmFloat8"}:               true,
}

// checkCPUOps refuses a model with a CUDA-only operator before ONNX
// Runtime is asked to build the session.
func checkCPUOps(ops []Op) error {
	for _, op := range ops {
		if cudaOnlyOps[op] {
			return cudaOnly(op.String())
		}
	}
	return nil
}

func cudaOnly(op string) error {
	return fmt.Errorf("%w: %s (this export was optimized for NVIDIA GPUs); run it with --device cuda, or use an export made for the CPU", ErrCUDAOnly, op)
}

// missingKernel matches ONNX Runtime's error for a node that no execution
// provider of the session implements.
var missingKernel = regexp.MustCompile(`Could not find an implementation for ([A-Za-z0-9_]+)\(`)

// cudaOnlyError turns ONNX Runtime's missing-kernel error on a CPU
// session into ErrCUDAOnly naming the operator; other errors pass through.
func cudaOnlyError(err error, dev Device) error {
	if err == nil || dev.Kind != DeviceCPU {
		return err
	}
	if m := missingKernel.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%w (ONNX Runtime: %s)", cudaOnly(m[1]), firstLine(err.Error()))
	}
	return err
}
