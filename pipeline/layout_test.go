package pipeline_test

import (
	"context"
	"errors"
	"io"
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
)

// The public ONNX layouts, made from the conformance checkpoints by moving
// files and rewriting graphs the way TensorStack's, AMD's and CompVis'
// exports differ from Optimum's; each must give the original's output.

// copyTree copies the checkpoint folder src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rewriteModels applies fn to every component's model.onnx and saves it
// with opts.
func rewriteModels(t *testing.T, dir string, fn func(m *onnxpb.ModelProto), opts ...onnxexport.SaveOption) {
	t.Helper()
	models, _ := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
	for _, path := range models {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, m); err != nil {
			t.Fatal(err)
		}
		if fn != nil {
			fn(m)
		}
		if err := onnxexport.Save(path, m, opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// externalData moves every weight of 1 KiB or more into the file name.
func externalData(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		rewriteModels(t, dir, nil, onnxexport.WithExternalDataName(name))
	}
}

// transformerInUnet moves the transformer to unet/, as TensorStack and AMD
// publish SD3.5 and Flux.
func transformerInUnet(t *testing.T, dir string) {
	if err := os.Rename(filepath.Join(dir, "transformer"), filepath.Join(dir, "unet")); err != nil {
		t.Fatal(err)
	}
}

// noIndex removes model_index.json and the denoiser's config.json, as in
// amd/FLUX.1-dev-onnx, so the family and the denoiser's settings are read
// off the graph.
func noIndex(t *testing.T, dir string) {
	for _, p := range []string{"model_index.json", "unet/config.json", "transformer/config.json"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// float16IO wraps every model so its float inputs and outputs are float16
// (a Cast to float32 after each input, a Cast to float16 before each
// output), as the _io16 exports take and give them.
func float16IO(t *testing.T, dir string) {
	rewriteModels(t, dir, wrapFloat16IO)
}

func wrapFloat16IO(m *onnxpb.ModelProto) {
	g := m.Graph
	const f32, f16 = int32(onnxpb.TensorProto_FLOAT), int32(onnxpb.TensorProto_FLOAT16)
	renameAll := func(from, to string) {
		for _, n := range g.Node {
			for i, x := range n.Input {
				if x == from {
					n.Input[i] = to
				}
			}
			for i, x := range n.Output {
				if x == from {
					n.Output[i] = to
				}
			}
		}
	}
	cast := func(in, out string, to int32) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: proto.String("io16_" + out), OpType: proto.String("Cast"),
			Input: []string{in}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("to"), I: proto.Int64(int64(to)),
				Type: onnxpb.AttributeProto_INT.Enum()}}}
	}
	var pre, post []*onnxpb.NodeProto
	for _, v := range g.Input {
		tt := v.GetType().GetTensorType()
		if tt.GetElemType() != f32 {
			continue
		}
		inner := v.GetName() + "__f32"
		renameAll(v.GetName(), inner)
		tt.ElemType = proto.Int32(f16)
		pre = append(pre, cast(v.GetName(), inner, f32))
	}
	for _, v := range g.Output {
		tt := v.GetType().GetTensorType()
		if tt.GetElemType() != f32 {
			continue
		}
		inner := v.GetName() + "__f32"
		renameAll(v.GetName(), inner)
		tt.ElemType = proto.Int32(f16)
		post = append(post, cast(inner, v.GetName(), f16))
	}
	g.Node = append(append(pre, g.Node...), post...)
}

// layoutCase runs reference case name on checkpoint dir.
func layoutRun(t *testing.T, dir, name string) *pipeline.Result {
	t.Helper()
	var c refCase
	conformance.Case(t, name, &c)
	p, err := pipeline.Load(context.Background(), dir, pipeline.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Generate(context.Background(), c.request(t))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPublicLayouts(t *testing.T) {
	testort.Init(t)
	type step func(t *testing.T, dir string)
	cases := []struct {
		name, checkpoint, ref string
		steps                 []step
		// tol is 0 where the layout must give the same bytes; float16
		// inputs and outputs round every value passed between models.
		tol float64
	}{
		{"sd3 transformer in unet, model.onnx.data", "sd3-tiny", "sd3/fm_euler", []step{transformerInUnet, externalData("model.onnx.data")}, 0},
		{"sd3 model.onnx_data", "sd3-tiny", "sd3/fm_euler", []step{externalData("model.onnx_data")}, 0},
		{"sd3 float16 io in unet", "sd3-tiny", "sd3/fm_euler", []step{transformerInUnet, float16IO}, 5e-3},
		{"flux transformer in unet, model.onnx.data", "flux-tiny", "flux/fm_dyn_g3p5", []step{transformerInUnet, externalData("model.onnx.data")}, 0},
		{"flux in unet without model_index.json", "flux-tiny", "flux/fm_dyn_g3p5", []step{transformerInUnet, noIndex, externalData("weights.pb")}, 0},
		{"flux float16 io", "flux-tiny", "flux/fm_dyn_g3p5", []step{float16IO}, 5e-3},
		{"sd1 weights.pb", "sd1-tiny", "sd1/euler", []step{externalData("weights.pb")}, 0},
		{"sd1 float16 io, model.onnx_data", "sd1-tiny", "sd1/euler", []step{float16IO, externalData("model.onnx_data")}, 5e-3},
	}
	want := map[string]*pipeline.Result{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := conformance.Dir(t, tc.checkpoint)
			if want[tc.ref] == nil {
				want[tc.ref] = layoutRun(t, src, tc.ref)
			}
			dir := filepath.Join(t.TempDir(), tc.checkpoint)
			copyTree(t, src, dir)
			for _, s := range tc.steps {
				s(t, dir)
			}
			got := layoutRun(t, dir, tc.ref)
			if got.ModelFamily != want[tc.ref].ModelFamily {
				t.Errorf("family %s, want %s", got.ModelFamily, want[tc.ref].ModelFamily)
			}
			if tc.tol == 0 {
				compare(t, "image", got.Images, want[tc.ref].Images, 0, 0)
			} else {
				compare(t, "image", got.Images, want[tc.ref].Images, tc.tol, tc.tol/5)
			}
		})
	}
}

// TestVariantFolders loads a folder holding _io16 and _io32 variants.
func TestVariantFolders(t *testing.T) {
	testort.Init(t)
	src := conformance.Dir(t, "sd1-tiny")
	root := t.TempDir()
	copyTree(t, src, filepath.Join(root, "sd1_io32"))
	copyTree(t, src, filepath.Join(root, "sd1_io16"))
	float16IO(t, filepath.Join(root, "sd1_io16"))
	p, err := pipeline.Load(context.Background(), root, pipeline.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if filepath.Base(p.Dir()) != "sd1_io32" {
		t.Errorf("opened %s, want the _io32 variant", p.Dir())
	}
	// Only the float16 one: it is opened, whatever its name.
	if err := os.RemoveAll(filepath.Join(root, "sd1_io32")); err != nil {
		t.Fatal(err)
	}
	if p, err = pipeline.Load(context.Background(), root, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if filepath.Base(p.Dir()) != "sd1_io16" {
		t.Errorf("opened %s, want the only variant", p.Dir())
	}
	// Two variants, neither _io32: the error lists them.
	copyTree(t, src, filepath.Join(root, "sd1_fp16"))
	_, err = pipeline.Load(context.Background(), root, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), "sd1_fp16, sd1_io16") {
		t.Errorf("got %v, want ErrNotCheckpoint listing the variants", err)
	}
}

// TestMissingExternalData names the weight file a partial download lacks.
func TestMissingExternalData(t *testing.T) {
	testort.Init(t)
	dir := filepath.Join(t.TempDir(), "sd1-tiny")
	copyTree(t, conformance.Dir(t, "sd1-tiny"), dir)
	externalData("weights.pb")(t, dir)
	if err := os.Remove(filepath.Join(dir, "unet", "weights.pb")); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.Load(context.Background(), dir, pipeline.Options{})
	if !errors.Is(err, pipeline.ErrNotCheckpoint) || !strings.Contains(err.Error(), "weights.pb, which is missing") {
		t.Errorf("got %v, want ErrNotCheckpoint naming weights.pb", err)
	}
}
