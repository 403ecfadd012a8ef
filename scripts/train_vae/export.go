package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// componentConfig is encoder/config.json and decoder/config.json.
type componentConfig struct {
	LatentDim     int64     `json:"latent_dim,omitempty"`
	LatentShape   []int64   `json:"latent_shape,omitempty"`
	ConditionSize int       `json:"condition_size"`
	SampleSize    int       `json:"sample_size"`
	OutputLogStd  []float64 `json:"output_log_std"`
	Likelihood    string    `json:"likelihood"`
	Parameters    int64     `json:"parameters"`
}

// export writes the model with weights w to out (replaced as a whole,
// through a temporary folder): model_index.json, and encoder/ and
// decoder/ each with model.onnx (float16 initializers) and config.json.
func export(out string, cfg config, w map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	ls, err := w["decoder.log_std"].AsFloat32()
	if err != nil {
		return err
	}
	logStd := make([]float64, 3)
	for i := range logStd {
		logStd[i] = logStdScale * float64(ls[i])
	}
	for _, c := range []struct {
		name string
		b    *onnxexport.Builder
	}{{"encoder", encoderGraph(cfg)}, {"decoder", decoderGraph(cfg)}} {
		if err := c.b.LoadParams(w); err != nil {
			return err
		}
		var n int64
		for _, p := range c.b.Params() {
			n += p.Tensor.NumElements()
		}
		c.b.SetMetadata("imagegen.arch", "cvae-shapes")
		c.b.SetMetadata("imagegen.component", c.name)
		c.b.SetMetadata("imagegen.trained_by", "scripts/train_vae")
		m, err := c.b.Build(onnxexport.WithFloat16Weights())
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, c.name), 0o755); err != nil {
			return err
		}
		if err := onnxexport.Save(filepath.Join(tmp, c.name, "model.onnx"), m); err != nil {
			return err
		}
		cc := componentConfig{ConditionSize: shapes.ConditionSize, SampleSize: imageSize,
			OutputLogStd: logStd, Likelihood: "gaussian", Parameters: n}
		if cfg.SpatialChannels > 0 {
			cc.LatentShape = cfg.latentDims()
		} else {
			cc.LatentDim = cfg.Latent
		}
		if err := jsonfile.Write(filepath.Join(tmp, c.name, "config.json"), cc); err != nil {
			return err
		}
	}
	idx := map[string]any{
		"_class_name": "ImagegenVAEPipeline", "_imagegen_family": "vae", "conditioning": "shapes-attributes",
		"encoder": []string{"imagegen", "CVAEEncoder"}, "decoder": []string{"imagegen", "CVAEDecoder"},
		"imagegen_defaults": map[string]int{"height": imageSize, "width": imageSize},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
