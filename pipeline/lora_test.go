package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/safetensors"
)

// pseudo fills n values deterministically in [-0.5, 0.5).
func pseudo(n int, seed uint32) []float32 {
	v := make([]float32, n)
	for i := range v {
		seed = seed*1664525 + 1013904223
		v[i] = float32(seed>>8)/float32(1<<24) - 0.5
	}
	return v
}

// sd1LoRA writes a kohya LoRA for sd1-tiny: a Linear (attn1.to_q), a 3×3
// conv (resnet conv1), a 1×1 conv (proj_in), a text-encoder Linear
// (q_proj), and extra keys for a module the checkpoint lacks.
func sd1LoRA(t *testing.T, extra bool) string {
	t.Helper()
	const r = 4
	pair := func(m map[string]safetensors.Tensor, key string, out int64, down []int64, seed uint32) {
		n := int64(1)
		for _, d := range down {
			n *= d
		}
		m[key+".lora_up.weight"] = safetensors.Tensor{Shape: []int64{out, r}, Data: pseudo(int(out)*r, seed)}
		m[key+".lora_down.weight"] = safetensors.Tensor{Shape: down, Data: pseudo(int(n), seed+1)}
		m[key+".alpha"] = safetensors.Tensor{Shape: []int64{}, Data: []float32{2}}
	}
	m := map[string]safetensors.Tensor{}
	pair(m, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 32, []int64{r, 32}, 1)
	pair(m, "lora_unet_down_blocks_0_resnets_0_conv1", 32, []int64{r, 32, 3, 3}, 3)
	pair(m, "lora_unet_down_blocks_0_attentions_0_proj_in", 32, []int64{r, 32, 1, 1}, 5)
	pair(m, "lora_te_text_model_encoder_layers_0_self_attn_q_proj", 32, []int64{r, 32}, 7)
	if extra {
		pair(m, "lora_unet_input_blocks_4_1_proj_in", 32, []int64{r, 32}, 9)
	}
	path := filepath.Join(t.TempDir(), "style.safetensors")
	if err := safetensors.WriteFile(path, m, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func generateWith(t *testing.T, dir string, opts pipeline.Options, c *refCase) []float32 {
	t.Helper()
	p, err := pipeline.Load(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Generate(context.Background(), c.request(t))
	if err != nil {
		t.Fatal(err)
	}
	return res.Images
}

func TestLoRA(t *testing.T) {
	testort.Init(t)
	var c refCase
	conformance.Case(t, "sd1/euler", &c)
	dir := conformance.Dir(t, "sd1-tiny")
	base := generateWith(t, dir, pipeline.Options{}, &c)
	path := sd1LoRA(t, false)

	zero := generateWith(t, dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: path, Scale: 0}}}, &c)
	compare(t, "scale 0 vs base", zero, base, 0, 0)

	var notices []string
	notice := func(m string) { notices = append(notices, m) }
	withLoRA := generateWith(t, dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: path, Scale: 0.8}},
		Session: ort.Options{Notice: notice}}, &c)
	if equal(withLoRA, base) {
		t.Error("the LoRA left the picture unchanged")
	}
	if len(notices) != 0 {
		t.Errorf("notices %v for a LoRA whose keys all match", notices)
	}

	// The same pictures from a checkpoint whose files hold the merged
	// weights, written here by the plain formula.
	merged := filepath.Join(t.TempDir(), "sd1-merged")
	copyTree(t, dir, merged)
	mergeByFormula(t, merged, path, 0.8)
	compare(t, "merged session vs merged files", withLoRA, generateWith(t, merged, pipeline.Options{}, &c), 0, 0)
}

// mergeByFormula writes W + scale·alpha/rank·up·down into the checkpoint's
// files for every adapter of the LoRA at loraPath, finding each weight by
// the node name that carries its module path.
func mergeByFormula(t *testing.T, dir, loraPath string, scale float64) {
	t.Helper()
	f, err := safetensors.Open(loraPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	modules := map[string]string{ // LoRA key → node name
		"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q": "unet|/u/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul",
		"lora_unet_down_blocks_0_resnets_0_conv1":                              "unet|/u/down_blocks.0/resnets.0/conv1/Conv",
		"lora_unet_down_blocks_0_attentions_0_proj_in":                         "unet|/u/down_blocks.0/attentions.0/proj_in/Conv",
		"lora_te_text_model_encoder_layers_0_self_attn_q_proj":                 "text_encoder|/m/encoder/layers.0/self_attn/q_proj/MatMul",
	}
	graphs := map[string]*onnxpb.ModelProto{}
	for key, where := range modules {
		component, node, _ := strings.Cut(where, "|")
		m := graphs[component]
		if m == nil {
			data, err := os.ReadFile(filepath.Join(dir, component, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			m = &onnxpb.ModelProto{}
			if err := proto.Unmarshal(data, m); err != nil {
				t.Fatal(err)
			}
			graphs[component] = m
		}
		up, _ := f.Float32(key + ".lora_up.weight")
		down, _ := f.Float32(key + ".lora_down.weight")
		alpha, _ := f.Float32(key + ".alpha")
		upInfo, _ := f.Info(key + ".lora_up.weight")
		out, rank := int(upInfo.Shape[0]), int(upInfo.Shape[1])
		k := len(down) / rank
		var weight string
		conv := false
		for _, n := range m.Graph.Node {
			if n.GetName() == node {
				weight, conv = n.Input[1], n.GetOpType() == "Conv"
			}
		}
		for _, init := range m.Graph.Initializer {
			if init.GetName() != weight {
				continue
			}
			w, err := onnxexport.DecodeTensor(init, "")
			if err != nil {
				t.Fatal(err)
			}
			s := scale * float64(alpha[0]) / float64(rank)
			for o := 0; o < out; o++ {
				for i := 0; i < k; i++ {
					var d float64
					for r := 0; r < rank; r++ {
						d += float64(up[o*rank+r]) * float64(down[r*k+i])
					}
					if conv { // [out, in, kh, kw]
						w.Float32[o*k+i] += float32(s * d)
					} else { // Linear, stored transposed: [in, out]
						w.Float32[i*out+o] += float32(s * d)
					}
				}
			}
			*init = *onnxexport.EncodeTensor(weight, w)
		}
	}
	for component, m := range graphs {
		if err := onnxexport.Save(filepath.Join(dir, component, "model.onnx"), m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoRABadInput(t *testing.T) {
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	extra := sd1LoRA(t, true)
	var notices []string
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: extra, Scale: 1}},
		Session: ort.Options{Notice: func(m string) { notices = append(notices, m) }}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if len(notices) != 1 || !strings.Contains(notices[0], "lora_unet_input_blocks_4_1_proj_in") {
		t.Errorf("notices %v, want one listing the unmatched key", notices)
	}
	_, err = pipeline.Load(context.Background(), dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: extra, Scale: 1}}, StrictLoRA: true})
	if !errors.Is(err, pipeline.ErrLoRA) || !strings.Contains(err.Error(), "input_blocks_4_1") {
		t.Errorf("strict: got %v, want ErrLoRA naming the key", err)
	}
	other := filepath.Join(t.TempDir(), "other.safetensors")
	safetensors.WriteFile(other, map[string]safetensors.Tensor{
		"lora_unet_single_transformer_blocks_0_attn_to_q.lora_up.weight":   {Shape: []int64{8, 2}, Data: make([]float32, 16)},
		"lora_unet_single_transformer_blocks_0_attn_to_q.lora_down.weight": {Shape: []int64{2, 8}, Data: make([]float32, 16)},
	}, nil)
	_, err = pipeline.Load(context.Background(), dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: other, Scale: 1}}})
	if !errors.Is(err, pipeline.ErrLoRA) || !strings.Contains(err.Error(), "another architecture") {
		t.Errorf("LoRA of another architecture: got %v, want ErrLoRA", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(bad, []byte("\xff\xff\xff\xff\xff\xff\xff\x7fnot a header"), 0o644)
	_, err = pipeline.Load(context.Background(), dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: bad, Scale: 1}}})
	var fe *safetensors.FormatError
	if !errors.As(err, &fe) {
		t.Errorf("corrupt header: got %v, want a safetensors.FormatError", err)
	}
}

// TestLoRASDXLOriginalNames: kohya's SDXL keys (input_blocks_4_1_…) apply
// to the same weights as their diffusers names.
func TestLoRASDXLOriginalNames(t *testing.T) {
	testort.Init(t)
	var c refCase
	conformance.Case(t, "sdxl/euler", &c)
	dir := conformance.Dir(t, "sdxl-tiny")
	write := func(module string) string {
		path := filepath.Join(t.TempDir(), "sdxl.safetensors")
		key := "lora_unet_" + module
		if err := safetensors.WriteFile(path, map[string]safetensors.Tensor{
			key + ".lora_up.weight":   {Shape: []int64{64, 2}, Data: pseudo(128, 11)},
			key + ".lora_down.weight": {Shape: []int64{2, 64}, Data: pseudo(128, 12)},
		}, nil); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// sdxl-tiny: layers_per_block 2, attention on down level 1 only, so
	// input_blocks 4.1 is down_blocks.1.attentions.0.
	sgm := write("input_blocks_4_1_transformer_blocks_0_attn1_to_q")
	diffusers := write("down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q")
	a := generateWith(t, dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: sgm, Scale: 1}}, StrictLoRA: true}, &c)
	b := generateWith(t, dir, pipeline.Options{LoRAs: []pipeline.LoRA{{Path: diffusers, Scale: 1}}, StrictLoRA: true}, &c)
	compare(t, "SGM names vs diffusers names", a, b, 0, 0)
	if equal(a, generateWith(t, dir, pipeline.Options{}, &c)) {
		t.Error("the LoRA left the picture unchanged")
	}
}
