package main

import (
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func export(o options, cfg onnxexport.UNetConfig, image, motion map[string]*onnxexport.Tensor) error {
	return nil
}
