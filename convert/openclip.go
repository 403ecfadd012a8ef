package convert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// OpenCLIP's text transformer (SD 2.x's cond_stage_model.model.…, SDXL's
// conditioner.embedders.1.model.…) in transformers' CLIPTextModel names.
// The attention's q, k and v live in one in_proj tensor, stacked along the
// output dimension; text_projection multiplies from the right (x·P), where
// transformers' Linear stores its transpose.

var openCLIPTop = [][2]string{
	{"positional_embedding", "text_model.embeddings.position_embedding.weight"},
	{"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
	{"ln_final.weight", "text_model.final_layer_norm.weight"},
	{"ln_final.bias", "text_model.final_layer_norm.bias"},
}

var openCLIPLayer = [][2]string{
	{"ln_1", "layer_norm1"}, {"ln_2", "layer_norm2"}, {"mlp.c_fc", "mlp.fc1"}, {"mlp.c_proj", "mlp.fc2"},
	{"attn.out_proj", "self_attn.out_proj"},
}

var (
	openCLIPBlock = regexp.MustCompile(`^transformer\.resblocks\.(\d+)\.(.+)$`)
	clipLayer     = regexp.MustCompile(`^text_model\.encoder\.layers\.(\d+)\.(.+)$`)
)

// openCLIPLayers counts the resblocks of an OpenCLIP state dict.
func openCLIPLayers(src map[string]*onnxexport.Tensor) int {
	n := 0
	for k := range src {
		if m := openCLIPBlock.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[1])
			n = max(n, i+1)
		}
	}
	return n
}

// openCLIPToCLIP renames an OpenCLIP text state dict (prefix removed) to
// transformers' names. layers is how many resblocks are kept (SD 2.x
// conditions on the penultimate layer, so diffusers drops the last);
// projection keeps text_projection as CLIPTextModelWithProjection's.
// dropped lists the keys left out on purpose, unknown those with no place.
func openCLIPToCLIP(src map[string]*onnxexport.Tensor, layers int, projection bool) (out map[string]*onnxexport.Tensor, dropped, unknown []string, err error) {
	out = map[string]*onnxexport.Tensor{}
	for k, t := range src {
		if d, ok := swapPrefix(k+".", openCLIPTop, 0, 1); ok {
			out[strings.TrimSuffix(d, ".")] = t
			continue
		}
		switch k {
		case "text_projection":
			if !projection {
				dropped = append(dropped, k)
				continue
			}
			tr, err := transpose2D(t)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("convert: %s: %w", k, err)
			}
			out["text_projection.weight"] = tr
			continue
		case "logit_scale":
			dropped = append(dropped, k) // CLIP's image-text temperature; no use to a text encoder
			continue
		}
		m := openCLIPBlock.FindStringSubmatch(k)
		if m == nil {
			unknown = append(unknown, k)
			continue
		}
		if i, _ := strconv.Atoi(m[1]); i >= layers {
			dropped = append(dropped, k)
			continue
		}
		base := "text_model.encoder.layers." + m[1] + "."
		switch m[2] {
		case "attn.in_proj_weight", "attn.in_proj_bias":
			parts, err := splitRows(t, 3)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("convert: %s: %w", k, err)
			}
			suffix := ".weight"
			if strings.HasSuffix(m[2], "bias") {
				suffix = ".bias"
			}
			for j, name := range []string{"q_proj", "k_proj", "v_proj"} {
				out[base+"self_attn."+name+suffix] = parts[j]
			}
			continue
		}
		if d, ok := swapPrefix(m[2], openCLIPLayer, 0, 1); ok {
			out[base+d] = t
			continue
		}
		unknown = append(unknown, k)
	}
	return out, dropped, unknown, nil
}

// clipToOpenCLIP is openCLIPToCLIP backwards: q, k and v are stacked
// into in_proj again.
func clipToOpenCLIP(src map[string]*onnxexport.Tensor) (map[string]*onnxexport.Tensor, error) {
	out := map[string]*onnxexport.Tensor{}
	qkv := map[string][3]*onnxexport.Tensor{} // by in_proj name
	for k, t := range src {
		if d, ok := swapPrefix(k+".", openCLIPTop, 1, 0); ok {
			out[strings.TrimSuffix(d, ".")] = t
			continue
		}
		if k == "text_projection.weight" {
			tr, err := transpose2D(t)
			if err != nil {
				return nil, fmt.Errorf("convert: %s: %w", k, err)
			}
			out["text_projection"] = tr
			continue
		}
		m := clipLayer.FindStringSubmatch(k)
		if m == nil {
			return nil, fmt.Errorf("%w: text encoder key %s has no OpenCLIP name", ErrUnsupported, k)
		}
		base := "transformer.resblocks." + m[1] + "."
		if rest, ok := strings.CutPrefix(m[2], "self_attn."); ok {
			for j, name := range []string{"q_proj.", "k_proj.", "v_proj."} {
				if kind, ok := strings.CutPrefix(rest, name); ok {
					key := base + "attn.in_proj_" + kind
					parts := qkv[key]
					parts[j] = t
					qkv[key] = parts
					goto next
				}
			}
		}
		if d, ok := swapPrefix(m[2], openCLIPLayer, 1, 0); ok {
			out[base+d] = t
			continue
		}
		return nil, fmt.Errorf("%w: text encoder key %s has no OpenCLIP name", ErrUnsupported, k)
	next:
	}
	for key, parts := range qkv {
		t, err := stackRows(parts[:])
		if err != nil {
			return nil, fmt.Errorf("convert: %s: %w", key, err)
		}
		out[key] = t
	}
	return out, nil
}

// splitRows cuts t into n equal parts along its first dimension.
func splitRows(t *onnxexport.Tensor, n int) ([]*onnxexport.Tensor, error) {
	data, err := t.AsFloat32()
	if err != nil {
		return nil, err
	}
	if len(t.Shape) == 0 || t.Shape[0]%int64(n) != 0 {
		return nil, fmt.Errorf("shape %v does not split into %d along its first dimension", t.Shape, n)
	}
	shape := append([]int64{t.Shape[0] / int64(n)}, t.Shape[1:]...)
	size := len(data) / n
	parts := make([]*onnxexport.Tensor, n)
	for i := range parts {
		parts[i] = onnxexport.NewFloat32(shape, data[i*size:(i+1)*size:(i+1)*size])
	}
	return parts, nil
}

// stackRows concatenates tensors of one shape along the first dimension.
func stackRows(parts []*onnxexport.Tensor) (*onnxexport.Tensor, error) {
	var data []float32
	var shape []int64
	for i, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("q, k or v is missing")
		}
		d, err := p.AsFloat32()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			shape = append([]int64{p.Shape[0] * int64(len(parts))}, p.Shape[1:]...)
		} else if fmt.Sprint(p.Shape) != fmt.Sprint(parts[0].Shape) {
			return nil, fmt.Errorf("q, k and v have shapes %v and %v", parts[0].Shape, p.Shape)
		}
		data = append(data, d...)
	}
	return onnxexport.NewFloat32(shape, data), nil
}

// transpose2D returns the transpose of a 2-D tensor as float32.
func transpose2D(t *onnxexport.Tensor) (*onnxexport.Tensor, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("shape %v, want 2-D", t.Shape)
	}
	data, err := t.AsFloat32()
	if err != nil {
		return nil, err
	}
	r, c := t.Shape[0], t.Shape[1]
	out := make([]float32, len(data))
	for i := range r {
		for j := range c {
			out[j*r+i] = data[i*c+j]
		}
	}
	return onnxexport.NewFloat32([]int64{c, r}, out), nil
}
