package onnxexport_test

import (
	"math"
	"testing"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// TestLosses runs each loss graph and compares with the formula written
// out in Go (the definitions of torch.nn.functional's mse_loss, l1_loss,
// cross_entropy and diffusers' Gaussian KL, mean over the batch).
func TestLosses(t *testing.T) {
	a := []float32{0.5, -1, 2, 0.25, 3, -0.5}
	c := []float32{1, -1.5, 0, 0.75, 2, 0.5}
	labels := []int64{2, 0}
	var mse, l1, kl, ce float64
	for i := range a {
		d := float64(a[i] - c[i])
		mse += d * d / 6
		l1 += math.Abs(d) / 6
		mu, lv := float64(a[i]), float64(c[i])
		kl += 0.5 * (mu*mu + math.Exp(lv) - 1 - lv) / 2 // summed per example, mean over 2 examples
	}
	for r := range 2 {
		row := a[3*r : 3*r+3]
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v))
		}
		ce += (math.Log(z) - float64(row[labels[r]])) / 2
	}
	tests := []struct {
		name  string
		build func(b *onnxexport.Builder, x, y, l *onnxexport.Value) *onnxexport.Value
		want  float64
	}{
		{"MSE", func(b *onnxexport.Builder, x, y, _ *onnxexport.Value) *onnxexport.Value { return b.MSELoss(x, y) }, mse},
		{"L1", func(b *onnxexport.Builder, x, y, _ *onnxexport.Value) *onnxexport.Value { return b.L1Loss(x, y) }, l1},
		{"GaussianKL", func(b *onnxexport.Builder, x, y, _ *onnxexport.Value) *onnxexport.Value {
			return b.GaussianKLLoss(x, y)
		}, kl},
		{"CrossEntropy", func(b *onnxexport.Builder, x, _, l *onnxexport.Value) *onnxexport.Value {
			return b.CrossEntropyLoss(x, l)
		}, ce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := onnxexport.NewBuilder("loss")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
			y := b.Input("y", onnxexport.Float32, onnxexport.D(2), onnxexport.D(3))
			l := b.Input("labels", onnxexport.Int64, onnxexport.D(2))
			loss := tc.build(b, x, y, l)
			b.Output("loss", b.Reshape(loss, 1))
			// Keep every input used so the graph declares it.
			b.Output("echo_y", y)
			b.Output("echo_l", l)
			got := runGraph(t, b, map[string]ort.Tensor{
				"x": {Shape: []int64{2, 3}, F32: a}, "y": {Shape: []int64{2, 3}, F32: c}, "labels": {Shape: []int64{2}, I64: labels},
			}, "loss")["loss"].F32[0]
			if math.Abs(float64(got)-tc.want) > 1e-5*(1+math.Abs(tc.want)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGaussianTerms runs the element-wise Gaussian NLL and KL graphs on
// values whose results are worked out by hand:
//
//	NLL(1 | 0, σ=1)     = ½ + ½ln2π                 = 1.4189385
//	NLL(0.5 | 0.25, σ=½) = ½(½)² + ln½ + ½ln2π       = 0.3507913
//	NLL(-1 | -1, σ=e⁻³) = −3 + ½ln2π                = −2.0810615
//	KL(1, lnσ²=0)       = ½(1 + 1 − 1 − 0)          = 0.5
//	KL(0, lnσ²=ln2)     = ½(0 + 2 − 1 − ln2)        = 0.1534264
//	KL(0, lnσ²=0)       = 0
func TestGaussianTerms(t *testing.T) {
	tests := []struct {
		name    string
		build   func(b *onnxexport.Builder, x, y, z *onnxexport.Value) *onnxexport.Value
		x, y, z []float32
		want    []float64
	}{
		{"NLL", func(b *onnxexport.Builder, x, y, z *onnxexport.Value) *onnxexport.Value {
			return b.GaussianNLL(x, y, z)
		},
			[]float32{1, 0.5, -1}, []float32{0, 0.25, -1}, []float32{0, float32(math.Log(0.5)), -3},
			[]float64{1.4189385, 0.3507913, -2.0810615}},
		{"KL", func(b *onnxexport.Builder, x, y, _ *onnxexport.Value) *onnxexport.Value { return b.GaussianKL(x, y) },
			[]float32{1, 0, 0}, []float32{0, float32(math.Ln2), 0}, []float32{0, 0, 0},
			[]float64{0.5, 0.1534264, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := onnxexport.NewBuilder("gaussian")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(3))
			y := b.Input("y", onnxexport.Float32, onnxexport.D(3))
			z := b.Input("z", onnxexport.Float32, onnxexport.D(3))
			b.Output("out", tc.build(b, x, y, z))
			b.Output("echo_z", z)
			got := runGraph(t, b, map[string]ort.Tensor{
				"x": {Shape: []int64{3}, F32: tc.x}, "y": {Shape: []int64{3}, F32: tc.y}, "z": {Shape: []int64{3}, F32: tc.z},
			}, "out")["out"].F32
			for i, w := range tc.want {
				if math.Abs(float64(got[i])-w) > 1e-5 {
					t.Errorf("element %d: got %v, want %v", i, got[i], w)
				}
			}
		})
	}
}
