#!/bin/sh
# gen_onnx_proto.sh remakes onnx_export/onnxpb/gen_onnx_ml.pb.go from the
# committed copy of onnx-ml.proto (taken from Debian's python3-onnx 1.12
# package, /usr/lib/python3/dist-packages/onnx/onnx-ml.proto; Apache-2.0).
#
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-go at the version of
# google.golang.org/protobuf in go.mod:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/onnx_export/onnxpb"
PATH="$PATH:$(go env GOPATH)/bin"
protoc -I "$dir" \
	--go_out="$dir" --go_opt=paths=source_relative \
	--go_opt=Monnx-ml.proto=github.com/imagegen/imagegen/onnx_export/onnxpb \
	"$dir/onnx-ml.proto"
mv "$dir/onnx-ml.pb.go" "$dir/gen_onnx_ml.pb.go"
