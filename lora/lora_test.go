package lora

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/safetensors"
)

// linearModel is y = x @ Wt with Wt = [[1,2],[3,4],[5,6]] (a Linear layer
// of 3 inputs and 2 outputs as PyTorch exports it), in a node named like
// an exported module.
func linearModel(t *testing.T) *onnxpb.ModelProto {
	t.Helper()
	b := onnxexport.NewBuilder("linear")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(3))
	w := b.Param("onnx::MatMul_7", onnxexport.NewFloat32([]int64{3, 2}, []float32{1, 2, 3, 4, 5, 6}))
	b.Output("y", b.MatMul(x, w))
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "MatMul" {
			n.Name = proto.String("/mid_block/attentions.0/to_q/MatMul")
		}
	}
	return m
}

func writeLoRA(t *testing.T, tensors map[string]safetensors.Tensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lora.safetensors")
	if err := safetensors.WriteFile(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, m *onnxpb.ModelProto, x []float32) []float32 {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.OpenBytes("linear", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]*ort.Tensor{"y": {}}
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{1, 3}, F32: x}}, out); err != nil {
		t.Fatal(err)
	}
	return out["y"].F32
}

// TestMergeByHand: up = [[1],[2]], down = [[1,0,-1]], alpha 0.5 at scale 2
// (factor 2·0.5/1 = 1) adds up·down = [[1,0,-1],[2,0,-2]] to W, so
// Wt becomes [[2,4],[3,4],[4,4]] and x = [1,2,3] gives [20, 24] instead of
// [22, 28]. The PEFT form of the same pair (no alpha) at scale 1 is the
// same update.
func TestMergeByHand(t *testing.T) {
	testort.Init(t)
	x := []float32{1, 2, 3}
	if got := run(t, linearModel(t), x); got[0] != 22 || got[1] != 28 {
		t.Fatalf("base model gives %v, want [22 28]", got)
	}
	up := safetensors.Tensor{Shape: []int64{2, 1}, Data: []float32{1, 2}}
	down := safetensors.Tensor{Shape: []int64{1, 3}, Data: []float32{1, 0, -1}}
	for _, tc := range []struct {
		name  string
		file  map[string]safetensors.Tensor
		scale float64
		want  []float32
	}{
		{"kohya", map[string]safetensors.Tensor{
			"lora_unet_mid_block_attentions_0_to_q.lora_up.weight":   up,
			"lora_unet_mid_block_attentions_0_to_q.lora_down.weight": down,
			"lora_unet_mid_block_attentions_0_to_q.alpha":            {Shape: []int64{}, Data: []float32{0.5}},
		}, 2, []float32{20, 24}},
		{"peft", map[string]safetensors.Tensor{
			"unet.mid_block.attentions.0.to_q.lora_B.weight": up,
			"unet.mid_block.attentions.0.to_q.lora_A.weight": down,
		}, 1, []float32{20, 24}},
		{"scale 0", map[string]safetensors.Tensor{
			"unet.mid_block.attentions.0.to_q.lora_B.weight": up,
			"unet.mid_block.attentions.0.to_q.lora_A.weight": down,
		}, 0, []float32{22, 28}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Load(writeLoRA(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Adapters) != 1 || f.Adapters[0].Component != "unet" || len(f.Unknown) != 0 {
				t.Fatalf("adapters %+v unknown %v", f.Adapters, f.Unknown)
			}
			m := linearModel(t)
			unmatched, err := Merge(m, "", []Scaled{{f.Adapters[0], tc.scale}})
			if err != nil || len(unmatched) != 0 {
				t.Fatalf("merge: %v, unmatched %v", err, unmatched)
			}
			if got := run(t, m, x); got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Errorf("merged model gives %v, want %v", got, tc.want)
			}
			if w := m.Graph.Initializer[0]; w.GetName() != "onnx::MatMul_7" || len(w.RawData) != 24 {
				t.Errorf("the original weight changed: %v", w)
			}
		})
	}
}

// TestConvDelta checks a 3×3 convolution update against the sum written
// out: W[o,i,y,x] += s · Σr up[o,r] · down[r,i,y,x].
func TestConvDelta(t *testing.T) {
	const out, in, rank = 2, 3, 2
	up := []float32{1, -1, 0.5, 2}
	down := make([]float32, rank*in*9)
	for i := range down {
		down[i] = float32(i%7) - 3
	}
	w := make([]float32, out*in*9)
	a := Scaled{&Adapter{Key: "conv", Up: up, UpShape: []int64{out, rank, 1, 1}, Down: down,
		DownShape: []int64{rank, in, 3, 3}, Alpha: 1}, 3}
	if err := addDelta(w, []int64{out, in, 3, 3}, true, a); err != nil {
		t.Fatal(err)
	}
	s := 3 * 1.0 / rank
	for o := 0; o < out; o++ {
		for k := 0; k < in*9; k++ {
			want := 0.0
			for r := 0; r < rank; r++ {
				want += float64(up[o*rank+r]) * float64(down[r*in*9+k])
			}
			if got := w[o*in*9+k]; float64(got) != float32f(s*want) {
				t.Fatalf("w[%d,%d] = %v, want %v", o, k, got, s*want)
			}
		}
	}
	if err := addDelta(make([]float32, 10), []int64{2, 5}, true, a); err == nil {
		t.Error("mismatched shapes merged")
	}
}

func float32f(v float64) float64 { return float64(float32(v)) }

func TestLoadReportsUnknownKeys(t *testing.T) {
	up := safetensors.Tensor{Shape: []int64{2, 1}, Data: []float32{1, 2}}
	down := safetensors.Tensor{Shape: []int64{1, 3}, Data: []float32{1, 0, -1}}
	f, err := Load(writeLoRA(t, map[string]safetensors.Tensor{
		"lora_unet_a.lora_up.weight":   up,
		"lora_unet_a.lora_down.weight": down,
		"lora_unet_b.hada_w1_a":        down,
		"lora_unet_c.lora_up.weight":   up, // no down
		"something_else.weight":        up,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Unknown, " "); got != "lora_unet_b.hada_w1_a lora_unet_c.lora_up.weight something_else.weight" {
		t.Errorf("unknown %q", got)
	}
	_, err = Load(writeLoRA(t, map[string]safetensors.Tensor{"x.weight": up}))
	if !errors.Is(err, ErrFormat) {
		t.Errorf("file without pairs: got %v, want ErrFormat", err)
	}
	_, err = Load(writeLoRA(t, map[string]safetensors.Tensor{
		"lora_unet_a.lora_up.weight":   up,
		"lora_unet_a.lora_down.weight": {Shape: []int64{2, 3}, Data: make([]float32, 6)},
	}))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "low-rank pair") {
		t.Errorf("mismatched ranks: got %v", err)
	}
}

// BenchmarkAddDelta merges a rank-16 update into an SD 1.5 attention
// projection (320×320, stored transposed).
func BenchmarkAddDelta(b *testing.B) {
	const out, in, rank = 320, 320, 16
	w := make([]float32, out*in)
	a := Scaled{&Adapter{Key: "b", Up: make([]float32, out*rank), UpShape: []int64{out, rank},
		Down: make([]float32, rank*in), DownShape: []int64{rank, in}, Alpha: 8}, 1}
	for i := range a.Up {
		a.Up[i] = float32(i%7) * 0.01
	}
	for i := 0; b.Loop(); i++ {
		if err := addDelta(w, []int64{in, out}, false, a); err != nil {
			b.Fatal(err)
		}
	}
}
