package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// componentConfig is the config.json of each exported component: the
// pipeline's contract (sample_size … link_channels) and the network's
// shape.
type componentConfig struct {
	SampleSize    int    `json:"sample_size"`
	ConditionSize int    `json:"condition_size"`
	Levels        int    `json:"levels"`
	Window        int64  `json:"window"`
	LinkChannels  int64  `json:"link_channels"`
	Channels      int64  `json:"channels"`
	Layers        int    `json:"layers"`
	Head          int64  `json:"head"`
	CondMap       int64  `json:"cond_map"`
	Order         string `json:"order"`
	// Temperature and Guidance are the pipeline's default sampling
	// temperature and classifier-free guidance scale.
	Temperature float64 `json:"temperature"`
	Guidance    float64 `json:"guidance"`
	// Parameters counts the component's weights; NetworkParameters the
	// whole network's (the three components share their weights).
	Parameters        int64 `json:"parameters"`
	NetworkParameters int64 `json:"network_parameters"`
}

// export writes the model with weights w and the default sampling
// temperature and guidance scale to out (replaced as a whole,
// through a temporary folder): model_index.json, and full/, vstack/ and
// hrow/ each with model.onnx (float16 initializers) and config.json.
func export(out string, cfg config, temperature, guidance float64, w map[string]*onnxexport.Tensor) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	var total int64
	for _, t := range w {
		total += t.NumElements()
	}
	for _, c := range []struct {
		name string
		b    *onnxexport.Builder
	}{{"full", fullGraph(cfg)}, {"vstack", vstackGraph(cfg)}, {"hrow", hrowGraph(cfg)}} {
		if err := c.b.LoadParams(w); err != nil {
			return err
		}
		var n int64
		for _, p := range c.b.Params() {
			n += p.Tensor.NumElements()
		}
		c.b.SetMetadata("imagegen.arch", "gated-pixelcnn-shapes")
		c.b.SetMetadata("imagegen.component", c.name)
		c.b.SetMetadata("imagegen.trained_by", "scripts/train_pixelcnn")
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
		cc := componentConfig{SampleSize: imageSize, ConditionSize: shapes.ConditionSize, Levels: levels,
			Window: cfg.window(), LinkChannels: int64(cfg.Layers) * 2 * cfg.Channels,
			Channels: cfg.Channels, Layers: cfg.Layers, Head: cfg.Head, CondMap: cfg.CondMap,
			Order: "rows, columns, R G B", Temperature: temperature, Guidance: guidance, Parameters: n, NetworkParameters: total}
		if err := jsonfile.Write(filepath.Join(tmp, c.name, "config.json"), cc); err != nil {
			return err
		}
	}
	idx := map[string]any{
		"_class_name": "ImagegenPixelCNNPipeline", "_imagegen_family": "pixelcnn", "conditioning": "shapes-attributes",
		"full": []string{"imagegen", "PixelCNN"}, "vstack": []string{"imagegen", "PixelCNNVStack"}, "hrow": []string{"imagegen", "PixelCNNHRow"},
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
