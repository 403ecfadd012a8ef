package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/internal/jsonfile"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed+11)) }

// componentConfig is encoder/config.json and decoder/config.json.
type componentConfig struct {
	LatentDim     int64   `json:"latent_dim"`
	ConditionSize int64   `json:"condition_size"`
	SampleSize    int64   `json:"sample_size"`
	LevelSteps    []int   `json:"level_steps"`
	Hidden        []int64 `json:"hidden"`
	CondMaps      int64   `json:"cond_maps"`
	Parameters    int64   `json:"parameters"`
	// Temperature is the default sampling temperature (decoder only).
	Temperature float64 `json:"temperature,omitempty"`
}

// export writes the model with weights w to out (replaced as a whole,
// through a temporary folder): model_index.json, and encoder/ and
// decoder/ each with model.onnx and config.json.
func export(out string, cfg config, w map[string]*onnxexport.Tensor, half bool, temperature float64) error {
	tmp := filepath.Clean(out) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	inv, err := invWeights(cfg, w, half)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		b    *onnxexport.Builder
	}{{"flow_encoder", encoderGraph(cfg)}, {"flow_decoder", decoderGraph(cfg, inv)}} {
		if err := c.b.LoadParams(w); err != nil {
			return err
		}
		c.b.SetMetadata("imagegen.arch", "cflow-shapes")
		c.b.SetMetadata("imagegen.component", c.name)
		c.b.SetMetadata("imagegen.trained_by", "scripts/train_flow")
		var opts []onnxexport.BuildOption
		if half {
			opts = append(opts, onnxexport.WithFloat16Weights())
		}
		m, err := c.b.Build(opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := os.MkdirAll(filepath.Join(tmp, c.name), 0o755); err != nil {
			return err
		}
		if err := onnxexport.Save(filepath.Join(tmp, c.name, "model.onnx"), m); err != nil {
			return err
		}
		cc := componentConfig{LatentDim: cfg.dims(), ConditionSize: cfg.Condition, SampleSize: cfg.Size,
			LevelSteps: cfg.Steps, Hidden: cfg.Hidden, CondMaps: cfg.CondMaps, Parameters: c.b.NumParams()}
		if c.name == "flow_decoder" {
			cc.Temperature = temperature
		}
		if err := jsonfile.Write(filepath.Join(tmp, c.name, "config.json"), cc); err != nil {
			return err
		}
	}
	idx := map[string]any{
		"_class_name": "ImagegenFlowPipeline", "_imagegen_family": "flow", "conditioning": "shapes-attributes",
		"flow_encoder": []string{"imagegen", "FlowEncoder"}, "flow_decoder": []string{"imagegen", "FlowDecoder"},
		"imagegen_defaults": map[string]int64{"height": cfg.Size, "width": cfg.Size},
	}
	if err := jsonfile.Write(filepath.Join(tmp, "model_index.json"), idx); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
