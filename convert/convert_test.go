package convert

import (
	"context"
	"encoding/json"
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
