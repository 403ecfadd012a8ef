package onnxexport_test

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// A graph is a flat list of calls; the first error is kept and returned by
// Build.
func ExampleBuilder() {
	b := onnxexport.NewBuilder("mlp")
	l := onnxexport.NewLayers(b, 42)
	x := b.Input("x", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(8))
	h := l.SiLU(l.Linear("fc1", x, 16, true))
	y := l.Linear("fc2", h, 4, true)
	b.Output("y", y)
	m, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), b.NumParams(), len(m.Graph.Node))
	for _, p := range b.Params() {
		fmt.Println(p.Name, p.Tensor.Shape)
	}
	// Output:
	// [batch,4] 212 9
	// fc1.weight [16 8]
	// fc1.bias [16]
	// fc2.weight [4 16]
	// fc2.bias [4]
}

func ExampleBuilder_Err() {
	b := onnxexport.NewBuilder("bad")
	l := onnxexport.NewLayers(b, 1)
	x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(6), onnxexport.D(4), onnxexport.D(4))
	defer b.Scope("mid_block")()
	h := l.GroupNorm("norm", x, 4, 1e-5) // 6 channels do not split into 4 groups
	b.Output("y", l.SiLU(h))             // not reached: the builder already failed
	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// onnxexport: bad block mid_block.norm: GroupNorm: shape mismatch: 6 channels of x [1,6,4,4] do not split into 4 groups
}

// A motion UNet takes a clip [batch, channels, frames, height, width];
// its parameters are the image UNet's plus the motion modules'.
func ExampleNewUNetMotionGraph() {
	cfg := onnxexport.UNetConfig{
		InChannels: 4, OutChannels: 4, SampleSize: 8, BlockOutChannels: []int64{16, 32},
		DownBlockTypes: []string{onnxexport.DownBlock2D, onnxexport.CrossAttnDownBlock2D},
		UpBlockTypes:   []string{onnxexport.CrossAttnUpBlock2D, onnxexport.UpBlock2D},
		LayersPerBlock: 1, AttentionHeads: []int64{2}, CrossAttentionDim: 16, NormGroups: 8, NormEps: 1e-5,
	}
	b := onnxexport.NewUNetMotionGraph(cfg, onnxexport.MotionConfig{Heads: 2, MaxFrames: 16}, 1)
	modules := map[string]bool{}
	for _, p := range b.Params() {
		if onnxexport.IsMotionParam(p.Name) {
			name, _, _ := strings.Cut(p.Name, ".attn")
			name, _, _ = strings.Cut(name, ".proj_out")
			name, _, _ = strings.Cut(name, ".norm")
			name, _, _ = strings.Cut(name, ".pos_proj")
			modules[name] = true
		}
	}
	fmt.Println(b.Inputs()[0].Shape(), len(modules), "motion modules", b.Err())
	// Output: [batch_size,4,num_frames,height,width] 7 motion modules <nil>
}

// Weights lists a read model's trainable weights by module name, as a
// converter to another format reads them.
func ExampleModel_Weights() {
	b := onnxexport.NewBuilder("norm")
	l := onnxexport.NewLayers(b, 1)
	x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(8))
	b.Output("y", l.Linear("proj", l.LayerNorm("norm", x, 1e-5), 4, true))
	m, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := proto.Marshal(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	read, err := onnxexport.DecodeModel(data, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	w := read.Weights()
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n, w[n].Shape)
	}
	// Output:
	// norm.bias [8]
	// norm.weight [8]
	// proj.bias [4]
	// proj.weight [4 8]
}
