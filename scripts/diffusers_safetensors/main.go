// Command diffusers_safetensors writes the weights of an ONNX checkpoint
// folder exported by imagegen (Optimum layout: text_encoder, unet,
// vae_encoder, vae_decoder) as a diffusers safetensors folder, float32:
//
//	OUT/text_encoder/model.safetensors
//	OUT/unet/diffusion_pytorch_model.safetensors
//	OUT/vae/diffusion_pytorch_model.safetensors   (encoder and decoder)
//
// imagegen names its weights with diffusers' state-dict names, so the
// tensors are copied under their own names; the two VAE halves are merged
// into one AutoencoderKL file. stable-diffusion.cpp loads the result as a
// diffusers folder (`sd-cli -m OUT`), which is how scripts/bench_sdcpp.sh
// gives it the very weights imagegen runs.
//
// Usage: go run ./scripts/diffusers_safetensors ONNX_DIR OUT_DIR
//
// OUT_DIR must not exist; it is written under a temporary name and renamed
// into place, so a failure leaves nothing half-written.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/safetensors"
)

// parts maps each output file to the ONNX components whose weights it holds.
var parts = []struct {
	out  string
	from []string
}{
	{"text_encoder/model.safetensors", []string{"text_encoder"}},
	{"unet/diffusion_pytorch_model.safetensors", []string{"unet"}},
	{"vae/diffusion_pytorch_model.safetensors", []string{"vae_encoder", "vae_decoder"}},
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: diffusers_safetensors ONNX_DIR OUT_DIR")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "diffusers_safetensors:", err)
		os.Exit(1)
	}
}

func convert(src, dst string) error {
	if _, err := os.Stat(filepath.Join(src, "model_index.json")); err != nil {
		return fmt.Errorf("%s is not a checkpoint folder: %w", src, err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(filepath.Clean(dst))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, p := range parts {
		tensors := map[string]safetensors.Tensor{}
		for _, comp := range p.from {
			if err := addWeights(tensors, filepath.Join(src, comp, "model.onnx")); err != nil {
				return err
			}
		}
		out := filepath.Join(tmp, filepath.FromSlash(p.out))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := safetensors.WriteFile(out, tensors, map[string]string{"format": "pt"}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d tensors, %s\n", p.out, len(tensors), paramCount(tensors))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// addWeights adds the trainable weights of the ONNX model at path to
// tensors as float32, refusing a name that another component already gave
// a different shape.
func addWeights(tensors map[string]safetensors.Tensor, path string) error {
	m, err := onnxexport.ReadModel(path)
	if err != nil {
		return err
	}
	w := m.Weights()
	if len(w) == 0 {
		return fmt.Errorf("%s has no weights", path)
	}
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := w[n]
		data, err := t.AsFloat32()
		if err != nil {
			return fmt.Errorf("%s: weight %q: %w", path, n, err)
		}
		name := strings.TrimSuffix(n, onnxexport.Float16WeightSuffix)
		if old, ok := tensors[name]; ok && fmt.Sprint(old.Shape) != fmt.Sprint(t.Shape) {
			return fmt.Errorf("%s: weight %q has shape %v, another component has %v", path, name, t.Shape, old.Shape)
		}
		tensors[name] = safetensors.Tensor{Shape: t.Shape, Data: data}
	}
	return nil
}

func paramCount(tensors map[string]safetensors.Tensor) string {
	var n int
	for _, t := range tensors {
		n += len(t.Data)
	}
	return fmt.Sprintf("%d weights", n)
}
