package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// componentConfig is each component's config.json.
type componentConfig struct {
	CodebookSize int64    `json:"codebook_size"`
	CodeDim      int64    `json:"code_dim"`
	LatentSize   [2]int64 `json:"latent_size"`
	SampleSize   int64    `json:"sample_size"`
	InChannels   int64    `json:"in_channels"`
	Parameters   int64    `json:"parameters"`
}

// export writes the vqvae family's folder to out: model_index.json and
// vq_encoder/, vq_decoder/ with model.onnx and config.json each, the
// weights in w (the codebook under codebookParam) as float16 initializers
// when half is set. out is replaced as a whole, through a temporary
// folder. It returns the encoder's and the decoder's parameter counts,
// the codebook included in both.
func export(out string, a arch, w map[string]*onnxexport.Tensor, half bool) ([2]int64, error) {
	var params [2]int64
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return params, err
	}
	index := map[string]any{
		"_class_name":       "ImagegenVQVAEPipeline",
		"_imagegen_family":  "vqvae",
		"vq_encoder":        []string{"imagegen", "VQEncoder"},
		"vq_decoder":        []string{"imagegen", "VQDecoder"},
		"imagegen_defaults": map[string]int{"height": imageSize, "width": imageSize},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), index); err != nil {
		return params, err
	}
	for i, c := range []struct {
		name string
		b    *onnxexport.Builder
	}{{"vq_encoder", encoderGraph(a)}, {"vq_decoder", decoderGraph(a)}} {
		if err := c.b.LoadParams(w); err != nil {
			return params, fmt.Errorf("%s: %w", c.name, err)
		}
		c.b.SetMetadata("imagegen.component", c.name)
		c.b.SetMetadata("imagegen.trained_by", "scripts/train_vqvae")
		var opts []onnxexport.BuildOption
		if half {
			opts = append(opts, onnxexport.WithFloat16Weights())
		}
		m, err := c.b.Build(opts...)
		if err != nil {
			return params, fmt.Errorf("%s: %w", c.name, err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, c.name), 0o755); err != nil {
			return params, err
		}
		if err := onnxexport.Save(filepath.Join(tmp, c.name, "model.onnx"), m); err != nil {
			return params, err
		}
		params[i] = c.b.NumParams()
		cfg := componentConfig{CodebookSize: a.codes, CodeDim: a.dim, LatentSize: [2]int64{a.grid, a.grid},
			SampleSize: imageSize, InChannels: 3, Parameters: params[i]}
		if err := jsonfile.Write(filepath.Join(tmp, c.name, "config.json"), cfg); err != nil {
			return params, err
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return params, err
	}
	return params, os.Rename(tmp, out)
}

// writeJSON writes v indented, with a final newline, making the folder.
