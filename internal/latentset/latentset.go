package latentset

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// ImageSize is the side of the shapes pictures the built-in model was
// trained on.
const ImageSize = 32

// Set is a latent training set: scaled latents of the first N shapes
// training pictures (the model's VAE posterior mean times its
// scaling_factor) and the model's text encoder's last hidden states of
// their captions and of "".
type Set struct {
	N                   int
	Per                 int // latent elements per picture
	HiddenLen, Hidden   int // tokens and width of the hidden states
	Latents             []float32
	States, EmptyStates []float32 // States has N+1 rows, the last one ""'s
}

// Load computes the set of the first n training pictures with the ONNX
// components of the checkpoint folder model (builtin:default's layout), or
// reads it from the cache under state (latents-N.bin, hidden-N.bin).
func Load(ctx context.Context, model, state string, n, threads int) (*Set, error) {
	var vaeCfg struct {
		ScalingFactor  float64 `json:"scaling_factor"`
		LatentChannels int     `json:"latent_channels"`
		BlockOut       []int   `json:"block_out_channels"`
	}
	raw, err := os.ReadFile(filepath.Join(model, "vae_encoder", "config.json"))
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
	if raw, err = os.ReadFile(filepath.Join(model, "text_encoder", "config.json")); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &textCfg); err != nil {
		return nil, fmt.Errorf("text encoder config: %w", err)
	}
	lat := ImageSize >> (len(vaeCfg.BlockOut) - 1)
	d := &Set{N: n, Per: vaeCfg.LatentChannels * lat * lat, HiddenLen: textCfg.MaxPos, Hidden: textCfg.HiddenSize}
	latPath := filepath.Join(state, fmt.Sprintf("latents-%d.bin", n))
	hidPath := filepath.Join(state, fmt.Sprintf("hidden-%d.bin", n))
	d.Latents = make([]float32, n*d.Per)
	d.States = make([]float32, (n+1)*d.HiddenLen*d.Hidden) // the last row is ""
	if ReadFloats(latPath, d.Latents) == nil && ReadFloats(hidPath, d.States) == nil {
		d.EmptyStates = d.States[n*d.HiddenLen*d.Hidden:]
		return d, nil
	}
	if err := encodePictures(ctx, filepath.Join(model, "vae_encoder", "model.onnx"), threads, vaeCfg.ScalingFactor, d); err != nil {
		return nil, fmt.Errorf("latents: %w", err)
	}
	if err := encodeCaptions(ctx, model, threads, d); err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	d.EmptyStates = d.States[n*d.HiddenLen*d.Hidden:]
	if err := WriteFloats(latPath, d.Latents); err != nil {
		return nil, err
	}
	return d, WriteFloats(hidPath, d.States)
}

func encodePictures(ctx context.Context, path string, threads int, scale float64, d *Set) error {
	sess, err := ort.Open(path, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	const batch = 100
	ds := shapes.Dataset{Split: shapes.Train, Size: ImageSize}
	px := 3 * ImageSize * ImageSize
	in := make([]float32, batch*px)
	out := make([]float32, batch*2*d.Per)
	side := int64(math.Sqrt(float64(d.Per / 4)))
	ch := int64(d.Per) / (side * side)
	for i0 := 0; i0 < d.N; i0 += batch {
		m := min(batch, d.N-i0)
		for k := range m {
			s, err := ds.Sample(i0 + k)
			if err != nil {
				return err
			}
			pix, stride := s.Image.Pix, s.Image.Stride
			dst := in[k*px:]
			for y := range ImageSize {
				for x := range ImageSize {
					for c := range 3 {
						dst[(c*ImageSize+y)*ImageSize+x] = float32(pix[y*stride+4*x+c])/127.5 - 1
					}
				}
			}
		}
		err := sess.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(m), 3, ImageSize, ImageSize}, F32: in[:m*px]}},
			map[string]*ort.Tensor{"latent_parameters": {Shape: []int64{int64(m), 2 * ch, side, side}, F32: out[:m*2*d.Per]}})
		if err != nil {
			return err
		}
		for k := range m {
			for j, v := range out[k*2*d.Per : k*2*d.Per+d.Per] { // the mean
				d.Latents[(i0+k)*d.Per+j] = v * float32(scale)
			}
		}
	}
	return nil
}

func encodeCaptions(ctx context.Context, model string, threads int, d *Set) error {
	tok, err := tokenizer.Load(filepath.Join(model, "tokenizer"))
	if err != nil {
		return err
	}
	sess, err := ort.Open(filepath.Join(model, "text_encoder", "model.onnx"), ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer sess.Close()
	lo, _ := shapes.Train.SeedRange()
	const batch = 500
	per := d.HiddenLen * d.Hidden
	ids := make([]int64, batch*d.HiddenLen)
	for i0 := 0; i0 <= d.N; i0 += batch {
		m := min(batch, d.N+1-i0)
		for k := range m {
			text := ""
			if i0+k < d.N {
				text = shapes.Caption(lo + uint64(i0+k))
			}
			for j, id := range tok.EncodePadded(text, d.HiddenLen) {
				ids[k*d.HiddenLen+j] = int64(id)
			}
		}
		err := sess.Run(ctx, map[string]ort.Tensor{"input_ids": {Shape: []int64{int64(m), int64(d.HiddenLen)}, I64: ids[:m*d.HiddenLen]}},
			map[string]*ort.Tensor{"last_hidden_state": {Shape: []int64{int64(m), int64(d.HiddenLen), int64(d.Hidden)}, F32: d.States[i0*per : (i0+m)*per]}})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadFloats fills dst with the little-endian float32s of the file at
// path; a file shorter than dst is an error.
func ReadFloats(path string, dst []float32) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return binary.Read(f, binary.LittleEndian, dst)
}

// WriteFloats writes src as little-endian float32s to path, through a
// temporary file renamed into place, so a reader never sees half a file.
func WriteFloats(path string, src []float32) error {
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
