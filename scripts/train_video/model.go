package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// motionConfig is the temporal part added to the built-in image UNet: a
// motion module (self-attention over the frames, 4 heads) after every
// layer of every level, frame positions spread over 16 (the longest clip
// the export takes), and the prompt pooled into 128 floats for every
// module, since the spatial layers were never shown a motion word.
func motionConfig() onnxexport.MotionConfig {
	return onnxexport.MotionConfig{Heads: 4, MaxFrames: maxFrames, TextDim: 128, TextHeads: 4}
}

// maxFrames is the longest clip builtin:video makes (motion_max_seq_length).
const maxFrames = 16

// unetConfigFile is the part of diffusers' UNet config.json the built-in
// image UNet uses.
type unetConfigFile struct {
	InChannels        int64    `json:"in_channels"`
	OutChannels       int64    `json:"out_channels"`
	SampleSize        int64    `json:"sample_size"`
	BlockOutChannels  []int64  `json:"block_out_channels"`
	DownBlockTypes    []string `json:"down_block_types"`
	UpBlockTypes      []string `json:"up_block_types"`
	LayersPerBlock    int      `json:"layers_per_block"`
	AttentionHeadDim  int64    `json:"attention_head_dim"`
	CrossAttentionDim int64    `json:"cross_attention_dim"`
	NormGroups        int64    `json:"norm_num_groups"`
	NormEps           float64  `json:"norm_eps"`
	FlipSinToCos      bool     `json:"flip_sin_to_cos"`
	FreqShift         float64  `json:"freq_shift"`
	AddEmbedType      string   `json:"addition_embed_type"`
	AddEmbedHeads     int64    `json:"addition_embed_type_num_heads"`
	PositionEmbedding bool     `json:"imagegen_position_embedding"`
}

// readUNetConfig reads the image UNet's config.json from base/unet.
func readUNetConfig(base string) (onnxexport.UNetConfig, error) {
	path := filepath.Join(base, "unet", "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return onnxexport.UNetConfig{}, err
	}
	var f unetConfigFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return onnxexport.UNetConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg := onnxexport.UNetConfig{
		InChannels: f.InChannels, OutChannels: f.OutChannels, SampleSize: f.SampleSize,
		BlockOutChannels: f.BlockOutChannels, DownBlockTypes: f.DownBlockTypes, UpBlockTypes: f.UpBlockTypes,
		LayersPerBlock: f.LayersPerBlock, AttentionHeads: []int64{f.AttentionHeadDim}, CrossAttentionDim: f.CrossAttentionDim,
		NormGroups: f.NormGroups, NormEps: f.NormEps, FlipSinToCos: f.FlipSinToCos, FreqShift: f.FreqShift,
		PositionEmbedding: f.PositionEmbedding,
	}
	if f.AddEmbedType == "text" {
		cfg.TextTimeHeads = f.AddEmbedHeads
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// readImageUNet returns the image UNet's weights as float32 tensors by
// parameter name (the float16 export stores them as NAME::float16, cast
// at load).
func readImageUNet(base string) (map[string]*onnxexport.Tensor, error) {
	m, err := onnxexport.ReadModel(filepath.Join(base, "unet", "model.onnx"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*onnxexport.Tensor, len(m.Initializers))
	for name, t := range m.Initializers {
		name, half := strings.CutSuffix(name, "::float16")
		if !half && !strings.Contains(name, ".weight") && !strings.Contains(name, ".bias") && name != "pos_embed" {
			continue // a folded constant, not a parameter
		}
		f, err := t.AsFloat32()
		if err != nil {
			return nil, fmt.Errorf("unet initializer %s: %w", name, err)
		}
		out[name] = onnxexport.NewFloat32(t.Shape, f)
	}
	return out, nil
}

// loadSpatial gives b's image-UNet parameters the values of image; the
// motion modules keep theirs.
func loadSpatial(b *onnxexport.Builder, image map[string]*onnxexport.Tensor) error {
	all := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		all[p.Name] = p.Tensor
		if onnxexport.IsMotionParam(p.Name) {
			continue
		}
		w, ok := image[p.Name]
		if !ok {
			return fmt.Errorf("the image UNet has no weight %s", p.Name)
		}
		all[p.Name] = w
	}
	return b.LoadParams(all)
}

// motionLoss builds the training loss over a batch of clips: inputs
// encoder_hidden_states [B,S,D] (the frozen text encoder's), sample
// [B,C,F,h,w] (noised scaled latents, one timestep per clip), timestep
// [B] and target [B,C,F,h,w] (v); loss the MSE of the prediction. The
// image UNet's parameters take the values of image; with freezeSpatial
// they become constants, so only the motion modules train (and no
// weight gradient of the spatial layers is computed).
func motionLoss(cfg onnxexport.UNetConfig, m onnxexport.MotionConfig, image map[string]*onnxexport.Tensor, batch, frames int64, freezeSpatial bool) (*onnxexport.Builder, *onnxexport.Value, error) {
	b := onnxexport.NewBuilder("unet-motion")
	l := onnxexport.NewLayers(b, 1)
	s, c := cfg.SampleSize, cfg.InChannels
	text := b.Input("encoder_hidden_states", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(contextLength), onnxexport.D(cfg.CrossAttentionDim))
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(c), onnxexport.D(frames), onnxexport.D(s), onnxexport.D(s))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	target := b.Input("target", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(c), onnxexport.D(frames), onnxexport.D(s), onnxexport.D(s))
	pred := l.UNetMotionModel(cfg, m, onnxexport.UNetInputs{Sample: x, Timestep: t, EncoderHiddenStates: text})
	loss := b.MSELoss(pred, target)
	if err := loadSpatial(b, image); err != nil {
		return nil, nil, err
	}
	if freezeSpatial {
		for _, p := range b.Params() {
			if !onnxexport.IsMotionParam(p.Name) {
				p.Trainable = false
			}
		}
	}
	return b, loss, b.Err()
}
