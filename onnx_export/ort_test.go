package onnxexport_test

import (
	"context"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// runGraph builds b, runs it in ONNX Runtime on the CPU and returns the
// named outputs.
func runGraph(t *testing.T, b *onnxexport.Builder, in map[string]ort.Tensor, outs ...string) map[string]*ort.Tensor {
	t.Helper()
	testort.Init(t)
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.OpenBytes(b.Name(), data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := map[string]*ort.Tensor{}
	for _, o := range outs {
		res[o] = &ort.Tensor{}
	}
	if err := s.Run(context.Background(), in, res); err != nil {
		t.Fatal(err)
	}
	return res
}

func param(t *testing.T, b *onnxexport.Builder, name string) []float32 {
	t.Helper()
	for _, p := range b.Params() {
		if p.Name == name {
			return p.Tensor.Float32
		}
	}
	t.Fatalf("no parameter %s", name)
	return nil
}

func ramp(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.Sin(float64(i)*0.7)) * scale
	}
	return out
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// linearRef computes x [n,in] · wᵀ (w [out,in]) + bias.
func linearRef(x, w, bias []float32, n, in, out int) []float32 {
	y := make([]float32, n*out)
	for r := range n {
		for o := range out {
			var s float64
			for k := range in {
				s += float64(x[r*in+k]) * float64(w[o*in+k])
			}
			if bias != nil {
				s += float64(bias[o])
			}
			y[r*out+o] = float32(s)
		}
	}
	return y
}

func TestORTBlocks(t *testing.T) {
	t.Run("linear", func(t *testing.T) {
		b := onnxexport.NewBuilder("linear")
		l := onnxexport.NewLayers(b, 3)
		x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(5))
		b.Output("y", l.Linear("fc", x, 3, true))
		xs := ramp(10, 1)
		got := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{2, 5}, F32: xs}}, "y")["y"]
		assertClose(t, got.F32, linearRef(xs, param(t, b, "fc.weight"), param(t, b, "fc.bias"), 2, 5, 3), 1e-5)
	})
	t.Run("conv2d", func(t *testing.T) {
		b := onnxexport.NewBuilder("conv")
		l := onnxexport.NewLayers(b, 4)
		x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(2), onnxexport.D(4), onnxexport.D(4))
		b.Output("y", l.Conv2d("c", x, 3, 3, onnxexport.Conv2dOptions{Padding: 1, Stride: 2}))
		xs := ramp(32, 1)
		got := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{1, 2, 4, 4}, F32: xs}}, "y")["y"]
		w, bias := param(t, b, "c.weight"), param(t, b, "c.bias")
		want := make([]float32, 3*2*2)
		for o := range 3 {
			for oy := range 2 {
				for ox := range 2 {
					s := float64(bias[o])
					for c := range 2 {
						for ky := range 3 {
							for kx := range 3 {
								iy, ix := oy*2-1+ky, ox*2-1+kx
								if iy < 0 || ix < 0 || iy >= 4 || ix >= 4 {
									continue
								}
								s += float64(xs[c*16+iy*4+ix]) * float64(w[((o*2+c)*3+ky)*3+kx])
							}
						}
					}
					want[(o*2+oy)*2+ox] = float32(s)
				}
			}
		}
		assertClose(t, got.F32, want, 1e-5)
	})
	for _, primitive := range []bool{false, true} {
		name := "groupnorm"
		if primitive {
			name += " primitive"
		}
		t.Run(name, func(t *testing.T) {
			b := onnxexport.NewBuilder("gn")
			l := onnxexport.NewLayers(b, 5)
			l.Primitive = primitive
			x := b.Input("x", onnxexport.Float32, onnxexport.Sym("n"), onnxexport.D(4), onnxexport.D(3), onnxexport.D(3))
			b.Output("y", l.GroupNorm("gn", x, 2, 1e-5))
			xs := ramp(2*36, 3)
			got := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{2, 4, 3, 3}, F32: xs}}, "y")["y"]
			want := make([]float32, len(xs))
			for g := range 4 { // 2 samples x 2 groups of 18 values
				seg := xs[g*18 : (g+1)*18]
				var mean, v float64
				for _, e := range seg {
					mean += float64(e)
				}
				mean /= 18
				for _, e := range seg {
					v += (float64(e) - mean) * (float64(e) - mean)
				}
				v /= 18
				for i, e := range seg {
					want[g*18+i] = float32((float64(e) - mean) / math.Sqrt(v+1e-5))
				}
			}
			assertClose(t, got.F32, want, 1e-4)
		})
	}
	t.Run("attention", func(t *testing.T) {
		b := onnxexport.NewBuilder("attn")
		l := onnxexport.NewLayers(b, 6)
		const S, C, T, D, H = 3, 4, 2, 6, 2
		x := b.Input("x", onnxexport.Float32, onnxexport.D(1), onnxexport.D(S), onnxexport.D(C))
		ctx := b.Input("ctx", onnxexport.Float32, onnxexport.D(1), onnxexport.D(T), onnxexport.D(D))
		b.Output("y", l.Attention("a", x, ctx, H, 2))
		xs, cs := ramp(S*C, 1), ramp(T*D, 2)
		got := runGraph(t, b, map[string]ort.Tensor{"x": {Shape: []int64{1, S, C}, F32: xs}, "ctx": {Shape: []int64{1, T, D}, F32: cs}}, "y")["y"]
		q := linearRef(xs, param(t, b, "a.to_q.weight"), nil, S, C, 4)
		k := linearRef(cs, param(t, b, "a.to_k.weight"), nil, T, D, 4)
		v := linearRef(cs, param(t, b, "a.to_v.weight"), nil, T, D, 4)
		mixed := make([]float32, S*4)
		for h := range H {
			for i := range S {
				scores := make([]float64, T)
				var mx, sum float64 = math.Inf(-1), 0
				for j := range T {
					for d := range 2 {
						scores[j] += float64(q[i*4+h*2+d]) * float64(k[j*4+h*2+d])
					}
					scores[j] /= math.Sqrt(2)
					mx = math.Max(mx, scores[j])
				}
				for j := range T {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				for d := range 2 {
					var s float64
					for j := range T {
						s += scores[j] / sum * float64(v[j*4+h*2+d])
					}
					mixed[i*4+h*2+d] = float32(s)
				}
			}
		}
		want := linearRef(mixed, param(t, b, "a.to_out.0.weight"), param(t, b, "a.to_out.0.bias"), S, 4, C)
		assertClose(t, got.F32, want, 1e-5)
	})
	t.Run("timestep embedding", func(t *testing.T) {
		b := onnxexport.NewBuilder("temb")
		l := onnxexport.NewLayers(b, 1)
		ts := b.Input("t", onnxexport.Float32, onnxexport.D(2))
		b.Output("e", l.TimestepProjection(ts, 8, true, 1))
		got := runGraph(t, b, map[string]ort.Tensor{"t": {Shape: []int64{2}, F32: []float32{0, 981}}}, "e")["e"]
		var want []float32
		for _, tv := range []float64{0, 981} {
			var sin, cos []float32
			for i := range 4 {
				f := math.Exp(-math.Log(10000) * float64(i) / (4 - 1))
				sin, cos = append(sin, float32(math.Sin(tv*f))), append(cos, float32(math.Cos(tv*f)))
			}
			want = append(append(want, cos...), sin...)
		}
		assertClose(t, got.F32, want, 1e-4)
	})
}
