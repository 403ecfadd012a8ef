package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/internal/latentset"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// teacherUNet reads the UNet config of the teacher's checkpoint folder
// (the fields the built-in model's config sets) and its weights, as
// float32.
func teacherUNet(dir string) (onnxexport.UNetConfig, map[string]*onnxexport.Tensor, error) {
	var c struct {
		InChannels        int64    `json:"in_channels"`
		OutChannels       int64    `json:"out_channels"`
		SampleSize        int64    `json:"sample_size"`
		BlockOutChannels  []int64  `json:"block_out_channels"`
		DownBlockTypes    []string `json:"down_block_types"`
		UpBlockTypes      []string `json:"up_block_types"`
		LayersPerBlock    int      `json:"layers_per_block"`
		AttentionHeadDim  int64    `json:"attention_head_dim"`
		CrossAttentionDim int64    `json:"cross_attention_dim"`
		NormNumGroups     int64    `json:"norm_num_groups"`
		NormEps           float64  `json:"norm_eps"`
		FlipSinToCos      bool     `json:"flip_sin_to_cos"`
		FreqShift         float64  `json:"freq_shift"`
		LinearProjection  bool     `json:"use_linear_projection"`
		AdditionEmbedType *string  `json:"addition_embed_type"`
		AdditionHeads     int64    `json:"addition_embed_type_num_heads"`
		PositionEmbedding bool     `json:"imagegen_position_embedding"`
		TimeCondProjDim   *int64   `json:"time_cond_proj_dim"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "unet", "config.json"))
	if err != nil {
		return onnxexport.UNetConfig{}, nil, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return onnxexport.UNetConfig{}, nil, fmt.Errorf("unet config: %w", err)
	}
	if c.TimeCondProjDim != nil {
		return onnxexport.UNetConfig{}, nil, fmt.Errorf("teacher %s already has a time_cond_proj_dim: distill a model without one", dir)
	}
	cfg := onnxexport.UNetConfig{
		InChannels: c.InChannels, OutChannels: c.OutChannels, SampleSize: c.SampleSize,
		BlockOutChannels: c.BlockOutChannels, DownBlockTypes: c.DownBlockTypes, UpBlockTypes: c.UpBlockTypes,
		LayersPerBlock: c.LayersPerBlock, AttentionHeads: []int64{c.AttentionHeadDim}, CrossAttentionDim: c.CrossAttentionDim,
		NormGroups: c.NormNumGroups, NormEps: c.NormEps, FlipSinToCos: c.FlipSinToCos, FreqShift: c.FreqShift,
		LinearProjection: c.LinearProjection, PositionEmbedding: c.PositionEmbedding,
	}
	if c.AdditionEmbedType != nil {
		if *c.AdditionEmbedType != "text" {
			return onnxexport.UNetConfig{}, nil, fmt.Errorf("teacher unet: addition_embed_type %q is not supported", *c.AdditionEmbedType)
		}
		cfg.TextTimeHeads = c.AdditionHeads
	}
	if err := cfg.Validate(); err != nil {
		return onnxexport.UNetConfig{}, nil, err
	}
	m, err := onnxexport.ReadModel(filepath.Join(dir, "unet", "model.onnx"))
	if err != nil {
		return onnxexport.UNetConfig{}, nil, err
	}
	w := map[string]*onnxexport.Tensor{}
	for k, t := range m.Initializers {
		if !t.DType.IsFloat() {
			continue // shape constants
		}
		f, err := t.AsFloat32()
		if err != nil {
			return onnxexport.UNetConfig{}, nil, fmt.Errorf("unet %s: %w", k, err)
		}
		name, _ := strings.CutSuffix(k, onnxexport.Float16WeightSuffix)
		w[name] = onnxexport.NewFloat32(t.Shape, f)
	}
	return cfg, w, nil
}

// ddpmAlphasCumprod is the teacher's training schedule: DDPM's linear
// betas from 1e-4 to 0.02 over 1000 steps.
func ddpmAlphasCumprod() []float64 {
	ac := make([]float64, numTrainTimesteps)
	prod := 1.0
	for i := range ac {
		beta := 1e-4 + (0.02-1e-4)*float64(i)/(numTrainTimesteps-1)
		prod *= 1 - beta
		ac[i] = prod
	}
	return ac
}

const numTrainTimesteps = 1000

// distillExamples draws the distillation examples: a picture, a step n of
// the skipping grid t_j = k·j − 1 (j = 1..origSteps, k = 1000/origSteps:
// the timesteps LCMScheduler samples from), noise to t_{n+k}, and a
// guidance scale w uniform in [wMin, wMax].
type distillExamples struct {
	set        *latentset.Set
	ac         []float64
	origSteps  int
	wMin, wMax float64
}

func (e *distillExamples) Len() int { return e.set.N }

func (e *distillExamples) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	s := e.set
	hd := s.HiddenLen * s.Hidden
	if len(dst) != len(distillInputs) || len(dst[0].F32) != hd || len(dst[2].F32) != s.Per || len(dst[6].F32) != coefCount {
		return fmt.Errorf("distillation examples: unexpected batch layout")
	}
	copy(dst[0].F32, s.States[i*hd:(i+1)*hd])
	copy(dst[1].F32, s.EmptyStates)
	k := numTrainTimesteps / e.origSteps
	j := 1 + rng.IntN(e.origSteps)
	t := k*j - 1
	tPrev := max(t-k, 0)
	a, sg := math.Sqrt(e.ac[t]), math.Sqrt(1-e.ac[t])
	x0 := s.Latents[i*s.Per : (i+1)*s.Per]
	for q, v := range x0 {
		dst[2].F32[q] = float32(a*float64(v) + sg*rng.NormFloat64())
	}
	dst[3].F32[0], dst[4].F32[0] = float32(t), float32(tPrev)
	w := e.wMin + (e.wMax-e.wMin)*rng.Float64()
	guidanceEmbedding(w, dst[5].F32)
	c := dst[6].F32
	c[coefA], c[coefS] = float32(a), float32(sg)
	c[coefAPrev], c[coefSPrev] = float32(math.Sqrt(e.ac[tPrev])), float32(math.Sqrt(1-e.ac[tPrev]))
	skip, out := boundaryScalings(float64(t))
	c[coefSkip], c[coefOut] = float32(skip), float32(out)
	// At t_n = 0 (below the grid's first step) c_skip is 1 and c_out 0:
	// the target is the teacher's sample itself.
	skip, out = boundaryScalings(float64(tPrev))
	c[coefSkipPrev], c[coefOutPrev] = float32(skip), float32(out)
	c[coefW] = float32(w)
	return nil
}

// guidanceEmbedding writes the sinusoidal embedding of w − 1 into dst, as
// the pipeline feeds an LCM UNet's timestep_cond (diffusers'
// get_guidance_scale_embedding of guidance_scale − 1, in float32).
func guidanceEmbedding(w float64, dst []float32) {
	x := float32(w-1) * 1000
	half := len(dst) / 2
	step := float32(math.Log(10000)) / float32(half-1)
	for k := range half {
		f := float32(math.Exp(float64(float32(k) * -step)))
		dst[k] = float32(math.Sin(float64(x * f)))
		dst[half+k] = float32(math.Cos(float64(x * f)))
	}
}
