package onnxexport

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestLoadParams(t *testing.T) {
	src := smallGraph(t)
	m, err := src.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := Save(path, m); err != nil {
		t.Fatal(err)
	}
	saved, err := ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("same architecture", func(t *testing.T) {
		dst := NewBuilder("small")
		x := dst.Input("x", Float32, Sym("batch"), D(3))
		w := dst.Param("fc.weight", NewFloat32([]int64{3, 100}, make([]float32, 300)))
		bias := dst.Param("fc.bias", NewFloat32([]int64{100}, make([]float32, 100)))
		dst.Output("y", dst.Add(dst.MatMul(x, w), bias))
		if err := dst.LoadParams(saved.Initializers); err != nil {
			t.Fatal(err)
		}
		got := w.Initializer().Tensor.Float32
		want := src.Params()[0].Tensor.Float32
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("fc.weight[%d] = %v, want %v", i, got[i], want[i])
			}
		}
	})
	for _, tc := range []struct {
		name  string
		shape []int64
		pname string
		want  string
		kind  error
	}{
		{"other shape", []int64{3, 50}, "fc.weight", "another architecture", ErrShape},
		{"missing", []int64{4}, "head.weight", "missing", ErrArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := NewBuilder("other")
			n := int64(1)
			for _, d := range tc.shape {
				n *= d
			}
			dst.Param(tc.pname, NewFloat32(tc.shape, make([]float32, n)))
			err := dst.LoadParams(saved.Initializers)
			if !errors.Is(err, tc.kind) || err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.pname) {
				t.Errorf("error %v, want %v mentioning %q and %q", err, tc.kind, tc.want, tc.pname)
			}
		})
	}
}

func TestFloat16Weights(t *testing.T) {
	b := smallGraph(t)
	got := decodeBuilt(t, b, WithFloat16Weights())
	half := got.Initializers["fc.weight::float16"]
	if half == nil || half.DType != Float16 {
		t.Fatalf("no float16 fc.weight: %v", got.Initializers)
	}
	want := b.Params()[0].Tensor.Float32
	f, _ := half.AsFloat32()
	for i := range want {
		if math.Abs(float64(f[i]-want[i])) > 1e-3*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("element %d: %v, want %v", i, f[i], want[i])
		}
	}
	if c := got.OpCounts()["Cast"]; c != 2 {
		t.Errorf("%d Cast nodes, want 2", c)
	}
}

func TestFloat16Conversion(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		bits uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00}, {6.103515625e-05, 0x0400}, {5.960464477539063e-08, 0x0001},
		{0.1, 0x2e66}, {1 + 1.0/2048, 0x3c00}, // tie rounds to even
	} {
		t.Run("", func(t *testing.T) {
			if got := Float32ToFloat16(tc.in); got != tc.bits {
				t.Errorf("Float32ToFloat16(%v) = %#04x, want %#04x", tc.in, got, tc.bits)
			}
			if back := Float16ToFloat32(tc.bits); tc.bits != 0x7c00 && tc.in != 0.1 && tc.in != 1+1.0/2048 && back != tc.in {
				t.Errorf("Float16ToFloat32(%#04x) = %v, want %v", tc.bits, back, tc.in)
			}
		})
	}
	if v := Float16ToFloat32(Float32ToFloat16(float32(math.NaN()))); v == v {
		t.Error("NaN did not survive")
	}
}

func TestDecodeModelErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, "protobuf"},
		{"empty", nil, "no graph"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeModel(tc.data, "")
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a FormatError mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeModel(f *testing.F) {
	b := NewBuilder("fuzz")
	x := b.Input("x", Float32, D(2))
	b.Output("y", b.Mul(x, b.ConstFloat32([]int64{2}, []float32{1, 2})))
	m, err := b.Build()
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := proto.Marshal(m)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeModel(data, "")
		if err != nil {
			return
		}
		for name, tensor := range got.Initializers {
			if err := tensor.Validate(); err != nil {
				t.Errorf("initializer %s decoded but invalid: %v", name, err)
			}
		}
	})
}

// TestNumParamsCountsTrainableWeights reads back exported tiny-sd graphs
// and checks that the count of a read model matches the builder's count of
// trainable initializers, with the builder's constants counted apart.
func TestNumParamsCountsTrainableWeights(t *testing.T) {
	cfg := TinySD()
	for _, tc := range []struct {
		name  string
		build func() *Builder
	}{
		{"unet", func() *Builder { return NewUNetGraph(cfg.UNet, 1) }},
		{"text_encoder", func() *Builder { return NewCLIPTextGraph(cfg.Text, 1) }},
		{"vae_decoder", func() *Builder { return NewVAEDecoderGraph(cfg.VAE, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build()
			got := decodeBuilt(t, b)
			var consts int64
			for _, in := range b.Initializers() {
				if !in.Trainable && in.Tensor.DType.IsFloat() {
					consts += in.Tensor.NumElements()
				}
			}
			if consts == 0 {
				t.Fatal("the graph has no float constants; the test checks nothing")
			}
			if n, want := got.NumParams(), b.NumParams(); n != want {
				t.Errorf("NumParams = %d, want the builder's %d", n, want)
			}
			if n := got.NumConstants(); n != consts {
				t.Errorf("NumConstants = %d, want %d", n, consts)
			}
			weights := got.Weights()
			if len(weights) != len(b.Params()) {
				t.Errorf("Weights has %d tensors, want the builder's %d parameters", len(weights), len(b.Params()))
			}
			for _, p := range b.Params() {
				w, ok := weights[p.Name]
				if !ok {
					t.Errorf("Weights lacks parameter %q", p.Name)
					continue
				}
				if !equalInts(w.Shape, p.Tensor.Shape) {
					t.Errorf("Weights[%q] has shape %v, want %v", p.Name, w.Shape, p.Tensor.Shape)
				}
			}
		})
	}
}

// decodeBuilt builds b's model, serializes it and decodes it back.
func decodeBuilt(t *testing.T, b *Builder, opts ...BuildOption) *Model {
	t.Helper()
	m, err := b.Build(opts...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeModel(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return got
}
