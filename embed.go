// Package imagegen holds the files the binary carries built in: the
// default model registry (models.yaml). The library itself lives in the
// subpackages (pipeline, schedulers, tokenizer, ort, ...) and the command in
// cmd/imagegen.
package imagegen

import _ "embed"

// ModelsYAML is the repository's models.yaml, the registry every imagegen
// binary knows without any file on disk.
//
//go:embed models.yaml
var ModelsYAML []byte
