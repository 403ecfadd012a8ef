package lora

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/imagegen/imagegen/safetensors"
)

// Adapter is one update of one weight. A LoRA (Kind KindLoRA) is the
// low-rank Up·Down (Up [out, rank, …], Down [rank, in, kh, kw] or
// [rank, in]) scaled by Alpha/rank; LoHa and LoKr use Up2/Down2 too (see
// Kind).
type Adapter struct {
	Kind Kind
	// Component is the checkpoint folder it changes: "unet",
	// "text_encoder" or "text_encoder_2" ("transformer" files map to the
	// denoiser, "unet").
	Component string
	// Module is the module path with dots as underscores
	// ("down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"), as
	// kohya writes it.
	Module string
	// Key is the file's key prefix, for messages.
	Key       string
	Up, Down  []float32
	UpShape   []int64
	DownShape []int64
	// Up2·Down2 is LoHa's first pair and LoKr's left factor w1 (Down2 nil
	// when the file gives w1 whole; likewise Down for LoKr's w2).
	Up2, Down2           []float32
	Up2Shape, Down2Shape []int64
	// Alpha is the file's alpha; 0 when it gives none (scale alpha/rank =
	// 1, as diffusers reads such files).
	Alpha float32
}

// Rank returns the adapter's rank (Down's first dimension).
func (a *Adapter) Rank() int { return int(a.DownShape[0]) }

// File is a loaded LoRA file.
type File struct {
	Path     string
	Adapters []*Adapter
	// Unknown lists keys that are no part of a supported adapter
	// (Tucker-decomposed LoHa/LoKr/LoCon tensors, stray tensors), sorted.
	Unknown []string
}

// ErrFormat is returned (wrapped) by Load for a file that is not a LoRA
// file: unreadable, or without one complete up/down pair.
var ErrFormat = errors.New("lora: not a LoRA file")

// componentPrefixes maps key prefixes to components: kohya's, then
// diffusers' and PEFT's.
var componentPrefixes = []struct{ prefix, component string }{
	{"lora_unet_", "unet"},
	{"lora_transformer_", "unet"},
	{"lora_te1_", "text_encoder"},
	{"lora_te2_", "text_encoder_2"},
	{"lora_te_", "text_encoder"},
	{"unet.", "unet"},
	{"transformer.", "unet"},
	{"text_encoder_2.", "text_encoder_2"},
	{"text_encoder.", "text_encoder"},
	{"base_model.model.", "unet"},
}

// pairSuffixes maps the suffix of an up or down tensor to its role.
var pairSuffixes = []struct {
	suffix string
	up     bool
}{
	{".lora_up.weight", true}, {".lora_down.weight", false},
	{".lora_B.weight", true}, {".lora_A.weight", false},
	{".lora.up.weight", true}, {".lora.down.weight", false},
	{"_lora.up.weight", true}, {"_lora.down.weight", false},
}

// Load reads the LoRA file at path (safetensors).
func Load(path string) (*File, error) {
	st, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	defer st.Close()
	type pair struct {
		up, down, alpha string
		lycoris         map[string]string // LoHa/LoKr tensor name → key
	}
	pairs := map[string]*pair{}
	get := func(base string) *pair {
		if pairs[base] == nil {
			pairs[base] = &pair{}
		}
		return pairs[base]
	}
	f := &File{Path: path}
	for _, name := range st.Names() {
		matched := false
		for _, s := range pairSuffixes {
			if base, ok := strings.CutSuffix(name, s.suffix); ok {
				if s.up {
					get(base).up = name
				} else {
					get(base).down = name
				}
				matched = true
				break
			}
		}
		if !matched {
			if base, ok := strings.CutSuffix(name, ".alpha"); ok {
				get(base).alpha = name
				continue
			}
			if base, part, ok := lycorisPart(name); ok {
				p := get(base)
				if p.lycoris == nil {
					p.lycoris = map[string]string{}
				}
				p.lycoris[part] = name
				continue
			}
			f.Unknown = append(f.Unknown, name)
		}
	}
	bases := make([]string, 0, len(pairs))
	for b := range pairs {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	for _, base := range bases {
		p := pairs[base]
		if p.lycoris != nil && p.up == "" && p.down == "" {
			a, err := readLyCORIS(st, base, p.lycoris, p.alpha)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
			}
			if a != nil {
				f.Adapters = append(f.Adapters, a)
				continue
			}
			for _, k := range p.lycoris {
				f.Unknown = append(f.Unknown, k)
			}
			if p.alpha != "" {
				f.Unknown = append(f.Unknown, p.alpha)
			}
			continue
		}
		for _, k := range p.lycoris {
			f.Unknown = append(f.Unknown, k)
		}
		if p.up == "" || p.down == "" {
			for _, k := range []string{p.up, p.down, p.alpha} {
				if k != "" {
					f.Unknown = append(f.Unknown, k)
				}
			}
			continue
		}
		a, err := readAdapter(st, base, p.up, p.down, p.alpha)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
		}
		if a == nil {
			f.Unknown = append(f.Unknown, p.up, p.down)
			continue
		}
		f.Adapters = append(f.Adapters, a)
	}
	sort.Strings(f.Unknown)
	if len(f.Adapters) == 0 {
		return nil, fmt.Errorf("%w: %s holds no lora_up/lora_down (or lora_A/lora_B) pair and no LoHa/LoKr factors (%d tensors)", ErrFormat, path, len(st.Names()))
	}
	return f, nil
}

// readAdapter reads one pair; it returns nil for a key of no known
// component.
func readAdapter(st *safetensors.File, base, upName, downName, alphaName string) (*Adapter, error) {
	a := &Adapter{Key: base}
	for _, p := range componentPrefixes {
		if rest, ok := strings.CutPrefix(base, p.prefix); ok {
			a.Component, a.Module = p.component, strings.ReplaceAll(rest, ".", "_")
			break
		}
	}
	if a.Component == "" {
		return nil, nil
	}
	var err error
	if a.Up, err = st.Float32(upName); err != nil {
		return nil, err
	}
	if a.Down, err = st.Float32(downName); err != nil {
		return nil, err
	}
	ui, _ := st.Info(upName)
	di, _ := st.Info(downName)
	a.UpShape, a.DownShape = ui.Shape, di.Shape
	if len(a.UpShape) < 2 || len(a.DownShape) < 2 || a.UpShape[1] != a.DownShape[0] || a.DownShape[0] == 0 {
		return nil, fmt.Errorf("%s: up %v and down %v are not a low-rank pair", base, a.UpShape, a.DownShape)
	}
	for _, d := range a.UpShape[2:] {
		if d != 1 {
			return nil, fmt.Errorf("%s: up %v: only 1×1 up kernels are supported", base, a.UpShape)
		}
	}
	if alphaName != "" {
		v, err := st.Float32(alphaName)
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("%s: alpha has %d values, want 1", base, len(v))
		}
		a.Alpha = v[0]
	}
	return a, nil
}
