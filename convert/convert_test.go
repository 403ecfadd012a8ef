package convert

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/safetensors"
)

// recoverStateDict turns an exported component back into the PyTorch
// state dict it was exported from: PyTorch's exporter keeps parameter
// names (behind the wrapper's prefix, "u." for the UNet, "m." for the text
// model), shares equal tensors through Identity nodes named after the
// parameter, and stores Linear weights transposed as anonymous MatMul
// inputs whose node names carry the module path.
func recoverStateDict(t *testing.T, path, wrapper, add string) map[string]safetensors.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, in := range m.Graph.Initializer {
		inits[in.GetName()] = in
	}
	identityOf := map[string]string{}
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "Identity" {
			identityOf[n.Output[0]] = n.Input[0]
		}
	}
	resolve := func(name string) *onnxpb.TensorProto {
		for range 8 {
			if tp := inits[name]; tp != nil {
				return tp
			}
			name = identityOf[name]
		}
		return nil
	}
	out := map[string]safetensors.Tensor{}
	put := func(name string, tp *onnxpb.TensorProto, transpose bool) {
		tt, err := onnxexport.DecodeTensor(tp, "")
		if err != nil {
			t.Fatal(err)
		}
		v, err := tt.AsFloat32()
		if err != nil {
			return
		}
		shape := append([]int64(nil), tt.Shape...)
		if transpose {
			r, c := int(shape[0]), int(shape[1])
			tr := make([]float32, len(v))
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					tr[j*r+i] = v[i*c+j]
				}
			}
			v, shape = tr, []int64{shape[1], shape[0]}
		}
		out[name] = safetensors.Tensor{Shape: shape, Data: v}
	}
	param := func(name string) (string, bool) {
		if wrapper != "" {
			rest, ok := strings.CutPrefix(name, wrapper+".")
			return add + rest, ok
		}
		return add + name, !strings.HasPrefix(name, "onnx::") && !strings.HasPrefix(name, "/")
	}
	for name, tp := range inits {
		if p, ok := param(name); ok {
			put(p, tp, false)
		}
	}
	for _, n := range m.Graph.Node {
		switch n.GetOpType() {
		case "Identity":
			if tp := inits[n.Input[0]]; tp != nil {
				if p, ok := param(n.Output[0]); ok {
					put(p, tp, false)
				}
			}
		case "MatMul":
			tp := resolve(n.Input[1])
			if tp == nil || len(tp.Dims) != 2 {
				continue
			}
			segs := strings.Split(strings.Trim(n.GetName(), "/"), "/")
			if wrapper != "" && segs[0] == wrapper {
				segs = segs[1:]
			}
			put(add+strings.Join(segs[:len(segs)-1], ".")+".weight", tp, true)
		case "Mul", "Add":
			// GroupNorm, exported as InstanceNormalization then Mul by the
			// weight and Add of the bias, both folded to [C, 1, 1].
			tp := resolve(n.Input[1])
			segs := strings.Split(strings.Trim(n.GetName(), "/"), "/")
			if tp == nil || len(tp.Dims) < 2 || !trailingOnes(tp.Dims) || !strings.HasPrefix(tp.GetName(), "onnx::") || len(segs) < 2 {
				continue
			}
			if wrapper != "" && segs[0] == wrapper {
				segs = segs[1:]
			}
			suffix := ".weight"
			if n.GetOpType() == "Add" {
				suffix = ".bias"
			}
			name := add + strings.Join(segs[:len(segs)-1], ".") + suffix
			put(name, tp, false)
			v := out[name]
			v.Shape = v.Shape[:1]
			out[name] = v
		}
	}
	return out
}

func trailingOnes(dims []int64) bool {
	for _, d := range dims[1:] {
		if d != 1 {
			return false
		}
	}
	return true
}

// diffusersFolder writes sd1-tiny back as the diffusers folder it was
// exported from: state dicts as safetensors, configs, tokenizer,
// scheduler.
func diffusersFolder(t *testing.T) string {
	t.Helper()
	src := conformance.Dir(t, "sd1-tiny")
	dst := filepath.Join(t.TempDir(), "sd1-diffusers")
	vae := recoverStateDict(t, filepath.Join(src, "vae_decoder", "model.onnx"), "v", "")
	for k, v := range recoverStateDict(t, filepath.Join(src, "vae_encoder", "model.onnx"), "v", "") {
		vae[k] = v
	}
	for component, sd := range map[string]map[string]safetensors.Tensor{
		"unet/diffusion_pytorch_model.safetensors": recoverStateDict(t, filepath.Join(src, "unet", "model.onnx"), "u", ""),
		"vae/diffusion_pytorch_model.safetensors":  vae,
		"text_encoder/model.safetensors":           recoverStateDict(t, filepath.Join(src, "text_encoder", "model.onnx"), "m", "text_model."),
	} {
		p := filepath.Join(dst, component)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := safetensors.WriteFile(p, sd, nil); err != nil {
			t.Fatal(err)
		}
	}
	copies := map[string]string{
		"unet/config.json": "unet/config.json", "vae_decoder/config.json": "vae/config.json",
		"text_encoder/config.json": "text_encoder/config.json", "model_index.json": "model_index.json",
		"scheduler/scheduler_config.json": "scheduler/scheduler_config.json",
	}
	for _, f := range []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		copies["tokenizer/"+f] = "tokenizer/" + f
	}
	for from, to := range copies {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, to)), 0o755)
		if err := os.WriteFile(filepath.Join(dst, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestConvertReproducesDiffusers converts sd1-tiny's weights, recovered as
// a diffusers folder, and checks the converted checkpoint against
// diffusers' own reference images.
func TestConvertReproducesDiffusers(t *testing.T) {
	testort.Init(t)
	ck, err := FromDiffusers(diffusersFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "converted")
	if err := Write(ck, out, Options{}); err != nil {
		t.Fatal(err)
	}
	refs := conformance.Refs(t)
	var names []string
	for name := range refs {
		if strings.HasPrefix(name, "sd1/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no sd1 reference cases")
	}
	p, err := pipeline.Load(context.Background(), out, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, name := range names {
		var c struct {
			Scheduler string                     `json:"scheduler"`
			Config    map[string]json.RawMessage `json:"config"`
			Steps     int                        `json:"steps"`
			Guidance  float64                    `json:"guidance"`
			Prompt    string                     `json:"prompt"`
			Seed      uint64                     `json:"seed"`
			Kwargs    map[string]any             `json:"kwargs"`
			Image     conformance.Array          `json:"image"`
		}
		conformance.Case(t, name, &c)
		r := pipeline.Request{Prompts: []string{c.Prompt}, Scheduler: c.Scheduler, Steps: c.Steps, Seed: c.Seed, Guidance: &c.Guidance}
		for k, v := range c.Config {
			if !strings.HasPrefix(k, "_") {
				r.SchedulerOpts = append(r.SchedulerOpts, k+"="+string(v))
			}
		}
		for k, v := range c.Kwargs {
			switch k {
			case "negative_prompt":
				r.NegativePrompt = v.(string)
			case "eta":
				r.Eta = v.(float64)
			default:
				t.Fatalf("%s: kwarg %s not handled", name, k)
			}
		}
		res, err := p.Generate(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		want := c.Image.Float32()
		var worst, sum float64
		for i := range want {
			d := math.Abs(float64(res.Images[i] - want[i]))
			worst, sum = math.Max(worst, d), sum+d
		}
		mean := sum / float64(len(want))
		t.Logf("%s: max |diff| %.2e, mean %.2e", name, worst, mean)
		if worst > 5e-3 || mean > 1e-3 {
			t.Errorf("%s: converted checkpoint differs from diffusers: max %.2e, mean %.2e", name, worst, mean)
		}
	}
}

// TestSingleFileReproducesDiffusers writes the recovered sd1-tiny weights
// in the original single-file layout and converts that file: the pictures
// are diffusers' again.
func TestSingleFileReproducesDiffusers(t *testing.T) {
	testort.Init(t)
	folder := diffusersFolder(t)
	ck, err := FromDiffusers(folder)
	if err != nil {
		t.Fatal(err)
	}
	ldm, err := ToSingleFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(t.TempDir(), "sd1-tiny.safetensors")
	tensors := map[string]safetensors.Tensor{}
	for k, v := range ldm {
		tensors[k] = safetensors.Tensor{Shape: v.Shape, Data: v.Float32}
	}
	tensors["model_ema.decay"] = safetensors.Tensor{Shape: []int64{}, Data: []float32{0.9999}}
	if err := safetensors.WriteFile(single, tensors, nil); err != nil {
		t.Fatal(err)
	}
	cfg := ck.Config
	back, err := FromSingleFile(single, SingleFileOptions{TokenizerDir: filepath.Join(folder, "tokenizer"), Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	for c, sd := range ck.Weights {
		if len(back.Weights[c]) != len(sd) {
			t.Errorf("%s: %d tensors back, %d went out", c, len(back.Weights[c]), len(sd))
		}
	}
	out := filepath.Join(t.TempDir(), "converted")
	if err := Write(back, out, Options{}); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Scheduler string                     `json:"scheduler"`
		Config    map[string]json.RawMessage `json:"config"`
		Steps     int                        `json:"steps"`
		Guidance  float64                    `json:"guidance"`
		Prompt    string                     `json:"prompt"`
		Seed      uint64                     `json:"seed"`
		Image     conformance.Array          `json:"image"`
	}
	conformance.Case(t, "sd1/euler", &c)
	p, err := pipeline.Load(context.Background(), out, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := pipeline.Request{Prompts: []string{c.Prompt}, Scheduler: c.Scheduler, Steps: c.Steps, Seed: c.Seed, Guidance: &c.Guidance}
	for k, v := range c.Config {
		if !strings.HasPrefix(k, "_") {
			r.SchedulerOpts = append(r.SchedulerOpts, k+"="+string(v))
		}
	}
	res, err := p.Generate(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	want := c.Image.Float32()
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(res.Images[i]-want[i])))
	}
	t.Logf("sd1/euler from the single file: max |diff| %.2e", worst)
	if worst > 5e-3 {
		t.Errorf("single-file conversion differs from diffusers by %.2e", worst)
	}
}

// TestKeyLayoutsRoundTrip maps every parameter name of SD 1.5- and
// SDXL-structured networks (full depth: levels, layers per block,
// transformer depth, added embeddings; narrow channels so the test stays
// small) to the single-file layout and back: each name returns to itself,
// no two share a single-file name, and every tensor is used once.
func TestKeyLayoutsRoundTrip(t *testing.T) {
	sd15 := onnxexport.SD15()
	narrow := func(c onnxexport.UNetConfig, widths []int64) onnxexport.UNetConfig {
		c.BlockOutChannels, c.NormGroups, c.CrossAttentionDim, c.AttentionHeads = widths, 4, 16, []int64{2}
		return c
	}
	sdxl := onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 128, BlockOutChannels: []int64{8, 16, 32},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 2, AttentionHeads: []int64{2}, TransformerLayers: []int{1, 2, 10}, CrossAttentionDim: 16,
		NormGroups: 4, NormEps: 1e-5, LinearProjection: true, FlipSinToCos: true,
		AdditionTimeEmbedDim: 8, TextEmbedDim: 16,
	}
	vae := sd15.VAE
	vae.BlockOutChannels, vae.NormGroups = []int64{8, 8, 16, 16}, 4
	for _, tc := range []struct {
		name string
		unet onnxexport.UNetConfig
	}{
		{"sd15", narrow(sd15.UNet, []int64{8, 16, 32, 32})},
		{"sdxl", sdxl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := &Checkpoint{Config: onnxexport.SDConfig{UNet: tc.unet, VAE: vae}, Weights: map[string]map[string]*onnxexport.Tensor{}}
			for component, b := range map[string]*onnxexport.Builder{
				"unet":    onnxexport.NewUNetGraph(tc.unet, 1),
				"vae":     onnxexport.NewVAEDecoderGraph(vae, 1),
				"vae_enc": onnxexport.NewVAEEncoderGraph(vae, 1),
			} {
				if err := b.Err(); err != nil {
					t.Fatal(err)
				}
				key := component
				if component == "vae_enc" {
					key = "vae"
				}
				if ck.Weights[key] == nil {
					ck.Weights[key] = map[string]*onnxexport.Tensor{}
				}
				for _, p := range b.Params() {
					ck.Weights[key][p.Name] = p.Tensor
				}
			}
			ldm, err := ToSingleFile(ck)
			if err != nil {
				t.Fatal(err)
			}
			total := len(ck.Weights["unet"]) + len(ck.Weights["vae"])
			if len(ldm) != total {
				t.Fatalf("%d single-file names for %d tensors", len(ldm), total)
			}
			layout := newUNetLayout(tc.unet)
			used := map[string]bool{}
			for name, tensor := range ldm {
				var back string
				var ok bool
				switch {
				case strings.HasPrefix(name, ldmUNet):
					back, ok = layout.toDiffusers(strings.TrimPrefix(name, ldmUNet))
					back = "unet:" + back
				case strings.HasPrefix(name, ldmVAE):
					back, ok = vaeToDiffusers(strings.TrimPrefix(name, ldmVAE), len(vae.BlockOutChannels))
					back = "vae:" + back
				}
				c, key, _ := strings.Cut(back, ":")
				orig := ck.Weights[c][key]
				if !ok || orig == nil {
					t.Errorf("%s maps back to %q, which is no tensor", name, back)
					continue
				}
				if used[back] {
					t.Errorf("%s used twice", back)
				}
				used[back] = true
				if tensor != orig && (len(tensor.Shape) != 4 || tensor.Shape[2] != 1) {
					t.Errorf("%s: not the tensor %s", name, back)
				}
			}
			if len(used) != total {
				t.Errorf("%d of %d tensors came back", len(used), total)
			}
			// Spot checks against the names Stability's code writes.
			for _, want := range []string{ldmUNet + "input_blocks.1.0.in_layers.2.weight", ldmUNet + "middle_block.1.proj_in.weight",
				ldmUNet + "out.2.weight", ldmVAE + "decoder.up.0.block.0.conv1.weight", ldmVAE + "encoder.mid.attn_1.q.weight"} {
				if _, ok := ldm[want]; !ok {
					t.Errorf("no %s", want)
				}
			}
		})
	}
}

func TestSingleFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, keys ...string) string {
		m := map[string]safetensors.Tensor{}
		for _, k := range keys {
			m[k] = safetensors.Tensor{Shape: []int64{1}, Data: []float32{1}}
		}
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, m, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, path string }{
		{"sdxl without its OpenCLIP embedder", write("xl.safetensors", "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight")},
		{"sd2 without a UNet", write("sd2.safetensors", "cond_stage_model.model.ln_final.weight")},
		{"stray key", write("stray.safetensors", ldmUNet+"input_blocks.1.0.in_layers.2.weight", "lora_unet_x.alpha")},
	} {
		_, err := FromSingleFile(tc.path, SingleFileOptions{TokenizerDir: dir})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v, want ErrUnsupported", tc.name, err)
		}
	}
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{broken json!!!}"), 0o644)
	var fe *safetensors.FormatError
	if _, err := FromSingleFile(bad, SingleFileOptions{TokenizerDir: dir}); !errors.As(err, &fe) {
		t.Errorf("corrupt header: got %v, want a safetensors.FormatError", err)
	}
}
