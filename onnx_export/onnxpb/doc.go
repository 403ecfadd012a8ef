// Package onnxpb holds the Go types generated from the ONNX protobuf schema
// (onnx-ml.proto, ONNX IR version 8, Apache-2.0, copied from Debian's
// python3-onnx 1.12 package).
//
// It is for reading and writing ONNX model files with
// google.golang.org/protobuf. It is not for building graphs by hand: package
// onnxexport (folder onnx_export) wraps these types in a graph builder with
// shape checks. Do not edit gen_onnx_ml.pb.go; remake it with go generate.
package onnxpb

//go:generate sh ../../scripts/gen_onnx_proto.sh
