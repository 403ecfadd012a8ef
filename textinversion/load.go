package textinversion

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/safetensors"
)

// Embedding is one textual-inversion file: its vectors for each text
// encoder it has them for.
type Embedding struct {
	// Name is what a prompt writes to use it: the file name without its
	// extension, as AUTOMATIC1111 names embeddings.
	Name string
	Path string
	// Vectors maps an encoder key to its vectors, [n, dim] row-major: ""
	// for single-encoder files (SD 1.x/2.x), "clip_l" and "clip_g" for
	// SDXL's text_encoder and text_encoder_2.
	Vectors map[string][]float32
	Dims    map[string]int
}

// Count returns the number of vectors (tokens) under key.
func (e *Embedding) Count(key string) int {
	if e.Dims[key] == 0 {
		return 0
	}
	return len(e.Vectors[key]) / e.Dims[key]
}

// ErrFormat is returned (wrapped) by Load for a file that holds no
// embedding it knows.
var ErrFormat = errors.New("textinversion: not a textual-inversion embedding")

// Load reads the embedding at path (.safetensors, .pt or .bin).
func Load(path string) (*Embedding, error) {
	base := filepath.Base(path)
	e := &Embedding{Name: strings.TrimSuffix(base, filepath.Ext(base)), Path: path,
		Vectors: map[string][]float32{}, Dims: map[string]int{}}
	var tensors map[string]tensor
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		tensors, err = loadSafetensors(path)
	case ".pt", ".bin", ".ckpt":
		tensors, err = loadTorch(path)
	default:
		return nil, fmt.Errorf("%w: %s: want .safetensors, .pt or .bin", ErrFormat, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
	}
	pick := func(key string, names ...string) {
		for _, n := range names {
			if t, ok := tensors[n]; ok && len(t.shape) >= 1 {
				dim := int(t.shape[len(t.shape)-1])
				if dim > 0 && len(t.data)%dim == 0 {
					e.Vectors[key], e.Dims[key] = t.data, dim
				}
				return
			}
		}
	}
	pick("clip_l", "clip_l")
	pick("clip_g", "clip_g")
	if len(e.Vectors) == 0 {
		pick("", "emb_params", "string_to_param.*", "*")
	}
	if len(e.Vectors) == 0 && len(tensors) == 1 {
		for name := range tensors { // diffusers' learned_embeds.bin: {token: vector}
			pick("", name)
		}
	}
	if len(e.Vectors) == 0 {
		names := make([]string, 0, len(tensors))
		for n := range tensors {
			names = append(names, n)
		}
		return nil, fmt.Errorf("%w: %s has no emb_params, string_to_param, clip_l or clip_g tensor (it has %v)", ErrFormat, path, names)
	}
	return e, nil
}

type tensor struct {
	shape []int64
	data  []float32
}

func loadSafetensors(path string) (map[string]tensor, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]tensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		data, err := f.Float32(n)
		if err != nil {
			continue // a non-float tensor is no embedding
		}
		out[n] = tensor{shape: info.Shape, data: data}
	}
	return out, nil
}
