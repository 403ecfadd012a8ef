package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/safetensors"
)

// Checkpoint is a checkpoint read into the network library's terms: the
// architecture, each component's weights by diffusers state-dict name,
// and the files copied as they are (tokenizer, scheduler).
type Checkpoint struct {
	Config onnxexport.SDConfig
	// Weights maps "unet", "vae" and "text_encoder" to their state dicts.
	Weights map[string]map[string]*onnxexport.Tensor
	// Files are written into the output folder by relative path.
	Files map[string][]byte
}

// ErrUnsupported is returned (wrapped) for a checkpoint of an
// architecture the converter does not build.
var ErrUnsupported = errors.New("convert: architecture not supported")

// FromDiffusers reads a diffusers checkpoint folder.
func FromDiffusers(dir string) (*Checkpoint, error) {
	ck := &Checkpoint{Weights: map[string]map[string]*onnxexport.Tensor{}, Files: map[string][]byte{}}
	var err error
	if ck.Config.UNet, err = unetConfig(filepath.Join(dir, "unet", "config.json")); err != nil {
		return nil, err
	}
	if ck.Config.VAE, err = vaeConfig(filepath.Join(dir, "vae", "config.json")); err != nil {
		return nil, err
	}
	if ck.Config.Text, err = clipConfig(filepath.Join(dir, "text_encoder", "config.json")); err != nil {
		return nil, err
	}
	ck.Config.Name = "converted"
	components := map[string][]string{
		"unet":         {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"},
		"vae":          {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"},
		"text_encoder": {"model.safetensors", "model.fp16.safetensors"},
	}
	files := []string{"tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json",
		"tokenizer/special_tokens_map.json", "scheduler/scheduler_config.json", "model_index.json"}
	if p := filepath.Join(dir, "text_encoder_2", "config.json"); fileExists(p) {
		// SDXL: both encoders' hidden states are read, the second's
		// projection is the pooled text_embeds.
		if ck.Config.Text2, err = clipConfig(p); err != nil {
			return nil, err
		}
		if ck.Config.Text2.ProjectionDim == 0 {
			return nil, fmt.Errorf("%w: %s: an SDXL second text encoder is a CLIPTextModelWithProjection", ErrUnsupported, p)
		}
		ck.Config.Text.HiddenStates, ck.Config.Text2.HiddenStates = true, true
		components["text_encoder_2"] = components["text_encoder"]
		files = append(files, "tokenizer_2/vocab.json", "tokenizer_2/merges.txt", "tokenizer_2/tokenizer_config.json", "tokenizer_2/special_tokens_map.json")
	}
	if ck.Config.UNet.AdditionTimeEmbedDim > 0 && ck.Config.Text2.NumLayers == 0 {
		return nil, fmt.Errorf("%w: %s: a text_time UNet without text_encoder_2 (an SDXL refiner?)", ErrUnsupported, dir)
	}
	for component, names := range components {
		var path string
		for _, n := range names {
			if p := filepath.Join(dir, component, n); fileExists(p) {
				path = p
				break
			}
		}
		if path == "" {
			return nil, fmt.Errorf("convert: %s has no %s/%s (only safetensors weights are read)", dir, component, names[0])
		}
		if ck.Weights[component], err = readStateDict(path, ""); err != nil {
			return nil, err
		}
	}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			if os.IsNotExist(err) && !strings.HasSuffix(rel, "/vocab.json") && !strings.HasSuffix(rel, "/merges.txt") {
				continue
			}
			return nil, fmt.Errorf("convert: %w", err)
		}
		ck.Files[rel] = b
	}
	return ck, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readStateDict reads the float tensors of a safetensors file whose names
// start with prefix, the prefix removed.
func readStateDict(path, prefix string) (map[string]*onnxexport.Tensor, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer f.Close()
	out := map[string]*onnxexport.Tensor{}
	for _, name := range f.Names() {
		if len(name) < len(prefix) || name[:len(prefix)] != prefix {
			continue
		}
		info, _ := f.Info(name)
		switch info.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
		default:
			continue // integer buffers (position_ids) are no weights
		}
		data, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		out[name[len(prefix):]] = onnxexport.NewFloat32(info.Shape, data)
	}
	return out, nil
}

func readConfig(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("convert: %s: %w", path, err)
	}
	return nil
}

// intOrList decodes diffusers' int-or-list config values.
type intOrList []int64

func (v *intOrList) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*v = intOrList{n}
		return nil
	}
	var l []int64
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*v = l
	return nil
}

func unetConfig(path string) (onnxexport.UNetConfig, error) {
	var c struct {
		ClassName          string    `json:"_class_name"`
		InChannels         int64     `json:"in_channels"`
		OutChannels        int64     `json:"out_channels"`
		SampleSize         int64     `json:"sample_size"`
		BlockOutChannels   []int64   `json:"block_out_channels"`
		DownBlockTypes     []string  `json:"down_block_types"`
		UpBlockTypes       []string  `json:"up_block_types"`
		LayersPerBlock     int       `json:"layers_per_block"`
		AttentionHeadDim   intOrList `json:"attention_head_dim"`
		TransformerLayers  intOrList `json:"transformer_layers_per_block"`
		CrossAttentionDim  int64     `json:"cross_attention_dim"`
		NormNumGroups      int64     `json:"norm_num_groups"`
		NormEps            float64   `json:"norm_eps"`
		UseLinear          bool      `json:"use_linear_projection"`
		FlipSinToCos       *bool     `json:"flip_sin_to_cos"`
		FreqShift          float64   `json:"freq_shift"`
		AdditionEmbedType  *string   `json:"addition_embed_type"`
		TimeCondProjDim    *int64    `json:"time_cond_proj_dim"`
		MidBlockType       *string   `json:"mid_block_type"`
		ClassEmbedType     *string   `json:"class_embed_type"`
		EncoderHidProjType *string   `json:"encoder_hid_dim_type"`
		AdditionTimeDim    int64     `json:"addition_time_embed_dim"`
		ProjClassInputDim  int64     `json:"projection_class_embeddings_input_dim"`
	}
	if err := readConfig(path, &c); err != nil {
		return onnxexport.UNetConfig{}, err
	}
	if c.ClassName != "" && c.ClassName != "UNet2DConditionModel" {
		return onnxexport.UNetConfig{}, fmt.Errorf("%w: %s is a %s", ErrUnsupported, path, c.ClassName)
	}
	textTime := c.AdditionEmbedType != nil && *c.AdditionEmbedType == "text_time" && c.AdditionTimeDim > 0 &&
		c.ProjClassInputDim > 6*c.AdditionTimeDim
	if c.AdditionEmbedType != nil && !textTime || c.TimeCondProjDim != nil || c.ClassEmbedType != nil || c.EncoderHidProjType != nil ||
		(c.MidBlockType != nil && *c.MidBlockType != "UNetMidBlock2DCrossAttn") {
		return onnxexport.UNetConfig{}, fmt.Errorf("%w: %s: added embeddings other than SDXL's text_time, LCM time conditioning and other mid blocks are not built (SD 1.x/2.x and SDXL UNets are)", ErrUnsupported, path)
	}
	u := onnxexport.UNetConfig{
		InChannels: c.InChannels, OutChannels: c.OutChannels, SampleSize: c.SampleSize,
		BlockOutChannels: c.BlockOutChannels, DownBlockTypes: c.DownBlockTypes, UpBlockTypes: c.UpBlockTypes,
		LayersPerBlock: c.LayersPerBlock, AttentionHeads: c.AttentionHeadDim, CrossAttentionDim: c.CrossAttentionDim,
		NormGroups: c.NormNumGroups, NormEps: c.NormEps, LinearProjection: c.UseLinear,
		FlipSinToCos: c.FlipSinToCos == nil || *c.FlipSinToCos, FreqShift: c.FreqShift,
	}
	if textTime {
		// projection_class_embeddings_input_dim is the pooled text width
		// plus six sinusoidal time-id embeddings.
		u.AdditionTimeEmbedDim, u.TextEmbedDim = c.AdditionTimeDim, c.ProjClassInputDim-6*c.AdditionTimeDim
	}
	for _, n := range c.TransformerLayers {
		u.TransformerLayers = append(u.TransformerLayers, int(n))
	}
	if err := u.Validate(); err != nil {
		return u, fmt.Errorf("convert: %s: %w", path, err)
	}
	return u, nil
}

func vaeConfig(path string) (onnxexport.VAEConfig, error) {
	var c struct {
		InChannels       int64   `json:"in_channels"`
		OutChannels      int64   `json:"out_channels"`
		LatentChannels   int64   `json:"latent_channels"`
		BlockOutChannels []int64 `json:"block_out_channels"`
		LayersPerBlock   int     `json:"layers_per_block"`
		NormNumGroups    int64   `json:"norm_num_groups"`
		SampleSize       int64   `json:"sample_size"`
		ScalingFactor    float64 `json:"scaling_factor"`
	}
	if err := readConfig(path, &c); err != nil {
		return onnxexport.VAEConfig{}, err
	}
	v := onnxexport.VAEConfig{InChannels: c.InChannels, OutChannels: c.OutChannels, LatentChannels: c.LatentChannels,
		BlockOutChannels: c.BlockOutChannels, LayersPerBlock: c.LayersPerBlock, NormGroups: c.NormNumGroups,
		SampleSize: c.SampleSize, ScalingFactor: c.ScalingFactor}
	if v.ScalingFactor == 0 {
		v.ScalingFactor = 0.18215
	}
	if err := v.Validate(); err != nil {
		return v, fmt.Errorf("convert: %s: %w", path, err)
	}
	return v, nil
}

func clipConfig(path string) (onnxexport.CLIPTextConfig, error) {
	var c struct {
		Architectures []string `json:"architectures"`
		VocabSize     int64    `json:"vocab_size"`
		HiddenSize    int64    `json:"hidden_size"`
		Intermediate  int64    `json:"intermediate_size"`
		NumLayers     int      `json:"num_hidden_layers"`
		NumHeads      int64    `json:"num_attention_heads"`
		MaxPositions  int64    `json:"max_position_embeddings"`
		HiddenAct     string   `json:"hidden_act"`
		LayerNormEps  float64  `json:"layer_norm_eps"`
		BOS           int64    `json:"bos_token_id"`
		EOS           int64    `json:"eos_token_id"`
		ProjectionDim int64    `json:"projection_dim"`
	}
	if err := readConfig(path, &c); err != nil {
		return onnxexport.CLIPTextConfig{}, err
	}
	projection := int64(0)
	for _, a := range c.Architectures {
		switch a {
		case "CLIPTextModel":
		case "CLIPTextModelWithProjection":
			projection = c.ProjectionDim
		default:
			return onnxexport.CLIPTextConfig{}, fmt.Errorf("%w: %s is a %s (CLIPTextModel and CLIPTextModelWithProjection are built)", ErrUnsupported, path, a)
		}
	}
	t := onnxexport.CLIPTextConfig{VocabSize: c.VocabSize, HiddenSize: c.HiddenSize, IntermediateSize: c.Intermediate,
		NumLayers: c.NumLayers, NumHeads: c.NumHeads, MaxPositionEmbeddings: c.MaxPositions, HiddenAct: c.HiddenAct,
		LayerNormEps: c.LayerNormEps, BOSTokenID: c.BOS, EOSTokenID: c.EOS, ProjectionDim: projection}
	if t.LayerNormEps == 0 {
		t.LayerNormEps = 1e-5
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("convert: %s: %w", path, err)
	}
	return t, nil
}
