package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// imageSize is the side of the shapes pictures the teacher was trained on.
const imageSize = 32

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

// distillSet is the training data: scaled latents of the first n shapes
// training pictures (the teacher's VAE posterior mean times its
// scaling_factor) and the teacher's text encoder's last hidden states of
// their captions and of "".
type distillSet struct {
	n                   int
	per                 int // latent elements per picture
	hiddenLen, hidden   int // tokens and width of the hidden states
	latents             []float32
	states, emptyStates []float32
}

// loadData computes the data set with the teacher's own ONNX components,
// or reads it from the cache under state.
func loadData(ctx context.Context, teacher, state string, n, threads int) (*distillSet, error) {
	var vaeCfg struct {
		ScalingFactor  float64 `json:"scaling_factor"`
		LatentChannels int     `json:"latent_channels"`
		BlockOut       []int   `json:"block_out_channels"`
	}
	raw, err := os.ReadFile(filepath.Join(teacher, "vae_encoder", "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &vaeCfg); err != nil {
		return nil, fmt.Errorf("vae config: %w", err)
	}
	var textCfg struct {
		HiddenSize int `json:"hidden_size"`
		MaxPos     int `json:"max_position_embeddings"`
	}
	if raw, err = os.ReadFile(filepath.Join(teacher, "text_encoder", "config.json")); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &textCfg); err != nil {
		return nil, fmt.Errorf("text encoder config: %w", err)
	}
	lat := imageSize >> (len(vaeCfg.BlockOut) - 1)
	d := &distillSet{n: n, per: vaeCfg.LatentChannels * lat * lat, hiddenLen: textCfg.MaxPos, hidden: textCfg.HiddenSize}
	latPath := filepath.Join(state, fmt.Sprintf("latents-%d.bin", n))
	hidPath := filepath.Join(state, fmt.Sprintf("hidden-%d.bin", n))
	d.latents = make([]float32, n*d.per)
	d.states = make([]float32, (n+1)*d.hiddenLen*d.hidden) // the last row is ""
	if readFloats(latPath, d.latents) == nil && readFloats(hidPath, d.states) == nil {
		d.emptyStates = d.states[n*d.hiddenLen*d.hidden:]
		return d, nil
	}
	if err := encodePictures(ctx, filepath.Join(teacher, "vae_encoder", "model.onnx"), threads, vaeCfg.ScalingFactor, d); err != nil {
		return nil, fmt.Errorf("latents: %w", err)
	}
	if err := encodeCaptions(ctx, teacher, threads, d); err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	d.emptyStates = d.states[n*d.hiddenLen*d.hidden:]
	if err := writeFloats(latPath, d.latents); err != nil {
		return nil, err
	}
	return d, writeFloats(hidPath, d.states)
}

func encodePictures(ctx context.Context, path string, threads int, scale float64, d *distillSet) error {
	sess, err := ort.Open(path, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	const batch = 100
	ds := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	px := 3 * imageSize * imageSize
	in := make([]float32, batch*px)
	out := make([]float32, batch*2*d.per)
	side := int64(math.Sqrt(float64(d.per / 4)))
	ch := int64(d.per) / (side * side)
	for i0 := 0; i0 < d.n; i0 += batch {
		m := min(batch, d.n-i0)
		for k := range m {
			s, err := ds.Sample(i0 + k)
			if err != nil {
				return err
			}
			pix, stride := s.Image.Pix, s.Image.Stride
			dst := in[k*px:]
			for y := range imageSize {
				for x := range imageSize {
					for c := range 3 {
						dst[(c*imageSize+y)*imageSize+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
					}
				}
			}
		}
		err := sess.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(m), 3, imageSize, imageSize}, F32: in[:m*px]}},
			map[string]*ort.Tensor{"latent_parameters": {Shape: []int64{int64(m), 2 * ch, side, side}, F32: out[:m*2*d.per]}})
		if err != nil {
			return err
		}
		for k := range m {
			for j, v := range out[k*2*d.per : k*2*d.per+d.per] { // the mean
				d.latents[(i0+k)*d.per+j] = v * float32(scale)
			}
		}
	}
	return nil
}

func encodeCaptions(ctx context.Context, teacher string, threads int, d *distillSet) error {
	tok, err := tokenizer.Load(filepath.Join(teacher, "tokenizer"))
	if err != nil {
		return err
	}
	sess, err := ort.Open(filepath.Join(teacher, "text_encoder", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	lo, _ := shapes.Train.SeedRange()
	const batch = 500
	per := d.hiddenLen * d.hidden
	ids := make([]int64, batch*d.hiddenLen)
	for i0 := 0; i0 <= d.n; i0 += batch {
		m := min(batch, d.n+1-i0)
		for k := range m {
			text := ""
			if i0+k < d.n {
				text = shapes.Caption(lo + uint64(i0+k))
			}
			for j, id := range tok.EncodePadded(text, d.hiddenLen) {
				ids[k*d.hiddenLen+j] = int64(id)
			}
		}
		err := sess.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{int64(m), int64(d.hiddenLen)}, I64: ids[:m*d.hiddenLen]}},
			map[string]*ort.Tensor{"last_hidden_state": {Shape: []int64{int64(m), int64(d.hiddenLen), int64(d.hidden)}, F32: d.states[i0*per : (i0+m)*per]}})
		if err != nil {
			return err
		}
	}
	return nil
}

func readFloats(path string, dst []float32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return binary.Read(f, binary.LittleEndian, dst)
}

func writeFloats(path string, src []float32) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = binary.Write(f, binary.LittleEndian, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
	set        *distillSet
	ac         []float64
	origSteps  int
	wMin, wMax float64
}

func (e *distillExamples) Len() int { return e.set.n }

func (e *distillExamples) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	s := e.set
	hd := s.hiddenLen * s.hidden
	if len(dst) != len(distillInputs) || len(dst[0].F32) != hd || len(dst[2].F32) != s.per || len(dst[6].F32) != coefCount {
		return fmt.Errorf("distillation examples: unexpected batch layout")
	}
	copy(dst[0].F32, s.states[i*hd:(i+1)*hd])
	copy(dst[1].F32, s.emptyStates)
	k := numTrainTimesteps / e.origSteps
	j := 1 + rng.IntN(e.origSteps)
	t := k*j - 1
	tPrev := max(t-k, 0)
	a, sg := math.Sqrt(e.ac[t]), math.Sqrt(1-e.ac[t])
	x0 := s.latents[i*s.per : (i+1)*s.per]
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
