package builtin

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/internal/embedcache"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Scheme prefixes a built-in model's name in --model values and
// models.yaml sources: "builtin:vae".
const Scheme = "builtin:"

//go:embed all:models
var files embed.FS

// Model is one built-in model.
type Model struct {
	// Name is what follows "builtin:".
	Name string
	// Family is the family pipeline that runs it (pipeline.Family), or
	// "upscale" for a super-resolution stage, which package upscale runs.
	Family string
	// Summary says in a line what the model is.
	Summary string
	// Knows says what prompts and pictures it understands.
	Knows string
	// Commands lists the imagegen commands it serves.
	Commands []string
	fsys     func() (fs.FS, error)
}

// shapesVocabulary is what every built-in model trained on the shapes
// dataset understands.
const shapesVocabulary = "32x32 shapes pictures: circle, square, triangle, star, heart; 8 colors; small/large; 3x3 grid positions and above/below/left of/right of"

// models lists the built-in models in the order `imagegen models` shows
// them.
var models = []Model{
	{Name: defaultmodel.Name, Family: "sd", Summary: "latent diffusion: CLIP-style text encoder, UNet (v-prediction, DDPM), VAE; its 32x32 pictures enlarged to 128x128 by builtin:sr (a cascade)",
		Knows: "prompts in the shapes vocabulary (BPE text encoder); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: func() (fs.FS, error) { return defaultmodel.FS(), nil }},
	{Name: "vae", Family: "vae", Summary: "conditional VAE: one decoder pass from a prior sample; ELBO/IWAE likelihood",
		Knows: "prompts parsed into shapes attributes; " + shapesVocabulary, Commands: []string{"generate", "eval --likelihood"},
		fsys: embedded("vae")},
	{Name: "vqvae", Family: "vqvae", Summary: "VQ-VAE image tokenizer: pictures to codebook indices and back (no prior)",
		Knows: shapesVocabulary, Commands: []string{"encode", "decode"},
		fsys: embedded("vqvae")},
	{Name: "gan", Family: "gan", Summary: "conditional GAN: one generator pass from noise (R1-regularized projection discriminator, EMA generator)",
		Knows: "prompts parsed into shapes attributes; " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: embedded("gan")},
	{Name: "flow", Family: "flow", Summary: "conditional normalizing flow (Glow-style): exact likelihood, invertible encode/decode, sampling at a temperature",
		Knows: "prompts parsed into shapes attributes; " + shapesVocabulary, Commands: []string{"generate --temperature", "encode", "decode", "eval --likelihood"},
		fsys: embedded("flow")},
	{Name: "vqgpt", Family: "vqgpt", Summary: "decoder-only transformer over builtin:vqvae's codes after BPE text tokens; KV cache, CFG, top-k/top-p",
		Knows: "prompts in the shapes vocabulary (BPE text tokens); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: embedded("vqgpt")},
	{Name: "pixelcnn", Family: "pixelcnn", Summary: "conditional gated PixelCNN: pixel-by-pixel sampling (--temperature); exact likelihood",
		Knows: "prompts parsed into shapes attributes; " + shapesVocabulary, Commands: []string{"generate", "eval --likelihood"},
		fsys: embedded("pixelcnn")},
	{Name: "ddpm", Family: "sd", Summary: "pixel-space DDPM: UNet on 32x32 pictures (ε-prediction, no VAE) with builtin:default's text encoder; ADM classifier guidance (--classifier-scale)",
		Knows: "prompts in the shapes vocabulary (BPE text encoder; the classifier reads the shapes a prompt names); " + shapesVocabulary, Commands: []string{"generate --classifier-scale", "eval --classifier-scale"},
		fsys: withDefaultModel("ddpm", "text_encoder", "tokenizer")},
	{Name: "video", Family: "animatediff", Summary: "text-to-video latent diffusion: the default model's UNet with AnimateDiff-style motion modules; its text encoder and VAE",
		Knows: "moving-shapes prompts (\"a red circle moving from left to right\", growing, shrinking, bouncing, changing color; up to 16 frames of 32x32); " + shapesVocabulary, Commands: []string{"generate --frames --fps"},
		fsys: withDefaultModel("video", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")},
	{Name: "lcm", Family: "sd", Summary: "latent consistency model distilled from builtin:default: its UNet with the guidance embedding (timestep_cond), LCMScheduler, 1-8 steps",
		Knows: "prompts in the shapes vocabulary (BPE text encoder); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: withDefaultModel("lcm", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")},
	{Name: "dit", Family: "sd", Summary: "latent DiT (adaLN-Zero, cross-attention to builtin:default's text encoder) trained as a rectified flow; FlowMatchEuler, guidance",
		Knows: "prompts in the shapes vocabulary (BPE text encoder); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: withDefaultModel("dit", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")},
	{Name: "dit-1step", Family: "sd", Summary: "builtin:dit reflowed (2-rectified flow on its own noise-sample pairs): one FlowMatchEuler step, no guidance batch",
		Knows: "prompts in the shapes vocabulary (BPE text encoder); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: withDefaultModel("dit-1step", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")},
	{Name: "dit-4step", Family: "sd", Summary: "the best 4-step DiT: builtin:dit-1step's 2-rectified flow sampled in 4 FlowMatchEuler steps",
		Knows: "prompts in the shapes vocabulary (BPE text encoder); " + shapesVocabulary, Commands: []string{"generate", "eval"},
		fsys: withUNetOf("dit-4step", "dit-1step", "text_encoder", "tokenizer", "vae_decoder", "vae_encoder")},
	{Name: "sr", Family: "upscale", Summary: "super-resolution diffusion stage x4: a fully convolutional denoiser (v-prediction, DDIM) reading the noise-augmented low-resolution picture; builtin:default's cascade stage",
		Knows: "32x32 shapes pictures (builtin:default's) → 128x128", Commands: []string{"upscale", "generate (builtin:default at 128x128)"},
		fsys: embedded("sr")},
}

func embedded(name string) func() (fs.FS, error) {
	return func() (fs.FS, error) {
		sub, err := fs.Sub(files, path.Join("models", name))
		if err != nil {
			return nil, err
		}
		if _, err := fs.Stat(sub, "model_index.json"); err != nil {
			return nil, fmt.Errorf("%w: builtin:%s is not in this build (no models/%s/model_index.json)", ErrUnknown, name, name)
		}
		return sub, nil
	}
}

// ErrUnknown is returned (wrapped) by ByName for a name the binary does not
// hold.
var ErrUnknown = errors.New("builtin: unknown model")

// Names returns the names of the built-in models, in listing order.
func Names() []string {
	n := make([]string, len(models))
	for i, m := range models {
		n[i] = m.Name
	}
	return n
}

// All returns every built-in model, in listing order.
func All() []Model { return append([]Model(nil), models...) }

// ByName returns the built-in model called name (with or without the
// "builtin:" prefix).
func ByName(name string) (Model, error) {
	name = strings.TrimPrefix(name, Scheme)
	for _, m := range models {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("%w %q (built-in models: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}

// FS returns the model's embedded checkpoint folder.
func (m Model) FS() (fs.FS, error) { return m.fsys() }

var hashes sync.Map // name → content hash

func (m Model) hash(fsys fs.FS) (string, error) {
	if h, ok := hashes.Load(m.Name); ok {
		return h.(string), nil
	}
	h, err := embedcache.Hash(fsys)
	if err != nil {
		return "", err
	}
	hashes.Store(m.Name, h)
	return h, nil
}

// Dir returns a folder holding the model, writing it under cacheDir (""
// means defaultmodel.DefaultCacheDir) on first use.
func (m Model) Dir(cacheDir string) (string, error) {
	if m.Name == defaultmodel.Name {
		return defaultmodel.Dir(cacheDir)
	}
	fsys, err := m.FS()
	if err != nil {
		return "", err
	}
	if cacheDir == "" {
		if cacheDir, err = defaultmodel.DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	sum, err := m.hash(fsys)
	if err != nil {
		return "", fmt.Errorf("builtin: hash %s: %w", m.Name, err)
	}
	dir, err := embedcache.Dir(fsys, sum, cacheDir, "imagegen-"+m.Name+"-", "model_index.json")
	if err != nil {
		return "", fmt.Errorf("builtin: %s: %w", m.Name, err)
	}
	return dir, nil
}

// Stats are a model's size.
type Stats struct {
	// Parameters counts the elements of every ONNX component's
	// initializers.
	Parameters int64
	// Bytes is the size of its files on disk.
	Bytes int64
	// Components lists its ONNX component folders.
	Components []string
}

// Stats counts the model's parameters and bytes.
func (m Model) Stats() (Stats, error) {
	fsys, err := m.FS()
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	var models []*onnxexport.Model
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st.Bytes += info.Size()
		if path.Base(p) != "model.onnx" {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		model, err := onnxexport.DecodeModel(raw, "")
		if err != nil {
			return fmt.Errorf("builtin: %s/%s: %w", m.Name, p, err)
		}
		models = append(models, model)
		st.Components = append(st.Components, path.Dir(p))
		return nil
	})
	sort.Strings(st.Components)
	// Components that share weights (the PixelCNN's graphs) count them once.
	st.Parameters = onnxexport.UniqueParams(models...)
	return st, err
}
