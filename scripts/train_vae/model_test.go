package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

var (
	tinyConfig        = config{Latent: 4, Width: 8, Hidden: 16, CondMap8: 8, CondMap16: 8}
	tinySpatialConfig = config{Width: 8, CondMap8: 8, CondMap16: 8, PositionMaps: true, SpatialChannels: 2}
	tinyLatentMaps    = config{Latent: 4, Width: 8, Hidden: 16, CondMap8: 8, CondMap16: 8, PositionMaps: true, LatentMaps: true}
)

// TestTrainLossIsNegativeELBO checks that the training graph's loss at
// β = 1 is the negative ELBO per dimension that the host code computes
// from the exported encoder and decoder graphs with the same weights and
// noise: the training objective, the exported models and the bits/dim
// figures agree on one likelihood.
func TestTrainLossIsNegativeELBO(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
	}{{"vector", tinyConfig}, {"spatial", tinySpatialConfig}, {"latent maps", tinyLatentMaps}} {
		t.Run(tc.name, func(t *testing.T) { testTrainLossIsNegativeELBO(t, tc.cfg) })
	}
}

func testTrainLossIsNegativeELBO(t *testing.T, cfg config) {
	testort.Init(t)
	const batch = 2
	b, loss := trainLoss(cfg, lossOptions{}, 3, batch)
	b.Output("loss", b.Reshape(loss, 1))
	w := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		w[p.Name] = p.Tensor
	}
	// A log σ other than the initial one, per channel.
	w["decoder.log_std"] = onnxexport.NewFloat32([]int64{3, 1, 1}, []float32{-0.3, -0.5, -0.2})
	if err := b.LoadParams(w); err != nil {
		t.Fatal(err)
	}
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ort.OpenBytes("loss", data, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*pixels)
	var c []float32
	for i := range batch {
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		dequantize(s.Image.Pix, s.Image.Stride, rng.Float64, x[i*pixels:(i+1)*pixels])
		ci, err := shapes.Condition(s.Caption)
		if err != nil {
			t.Fatal(err)
		}
		c = append(c, ci...)
	}
	eps := make([]float32, batch*cfg.latentSize())
	for i := range eps {
		eps[i] = float32(rng.NormFloat64())
	}
	out := map[string]*ort.Tensor{"loss": {}}
	err = sess.Run(context.Background(), map[string]ort.Tensor{
		"image":     {Shape: []int64{batch, 3, imageSize, imageSize}, F32: x},
		"condition": {Shape: []int64{batch, shapes.ConditionSize}, F32: c},
		"eps":       {Shape: append([]int64{batch}, cfg.latentDims()...), F32: eps},
		"kl_weight": {Shape: []int64{batch}, F32: []float32{1, 1}},
	}, out)
	if err != nil {
		t.Fatal(err)
	}
	got := float64(out["loss"].F32[0])

	cv, err := openWeights(cfg, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cv.close()
	ctx := context.Background()
	mean, logvar, err := cv.encode(ctx, x, c, batch)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float32, len(mean))
	for i := range z {
		z[i] = mean[i] + float32(math.Exp(0.5*float64(logvar[i])))*eps[i]
	}
	mu, err := cv.decode(ctx, z, c, batch)
	if err != nil {
		t.Fatal(err)
	}
	var negELBO float64
	kl := make([]float64, cfg.latentSize())
	zd := int(cfg.latentSize())
	for i := range batch {
		negELBO += -logLikelihood(x[i*pixels:(i+1)*pixels], mu[i*pixels:(i+1)*pixels], cv.logStd)
		negELBO += klPerDim(mean[i*zd:(i+1)*zd], logvar[i*zd:(i+1)*zd], kl)
	}
	want := negELBO / batch / pixels
	if math.Abs(got-want) > 1e-4*math.Abs(want) {
		t.Errorf("training loss %v, host negative ELBO per dimension %v", got, want)
	}
	if want := [3]float64{-0.3, -0.5, -0.2}; math.Abs(cv.logStd[1]-want[1]*logStdScale) > 1e-6 {
		t.Errorf("log σ of green: got %v, want %v", cv.logStd[1], want[1]*logStdScale)
	}
}

// TestExportedGraphs checks the contract the pipeline reads: input and
// output names, and shapes with a free batch axis.
func TestExportedGraphs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		b           *onnxexport.Builder
		ins, outs   []string
		outElements []int64
	}{
		{"encoder", encoderGraph(tinyConfig), []string{"sample", "condition"}, []string{"mean", "logvar"}, []int64{4, 4}},
		{"decoder", decoderGraph(tinyConfig), []string{"latent", "condition"}, []string{"sample"}, []int64{pixels}},
		{"spatial encoder", encoderGraph(tinySpatialConfig), []string{"sample", "condition"}, []string{"mean", "logvar"}, []int64{32, 32}},
		{"latent-maps decoder", decoderGraph(tinyLatentMaps), []string{"latent", "condition"}, []string{"sample"}, []int64{pixels}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.b.Build()
			if err != nil {
				t.Fatal(err)
			}
			g := m.GetGraph()
			if len(g.GetInput()) != len(tc.ins) || len(g.GetOutput()) != len(tc.outs) {
				t.Fatalf("got %d inputs and %d outputs, want %d and %d", len(g.GetInput()), len(g.GetOutput()), len(tc.ins), len(tc.outs))
			}
			for i, in := range g.GetInput() {
				if in.GetName() != tc.ins[i] {
					t.Errorf("input %d: got %q, want %q", i, in.GetName(), tc.ins[i])
				}
				if d := in.GetType().GetTensorType().GetShape().GetDim()[0]; d.GetDimParam() != "batch" {
					t.Errorf("input %s: batch axis %v, want the symbol batch", in.GetName(), d)
				}
			}
			for i, out := range g.GetOutput() {
				if out.GetName() != tc.outs[i] {
					t.Errorf("output %d: got %q, want %q", i, out.GetName(), tc.outs[i])
				}
				n := int64(1)
				for _, d := range out.GetType().GetTensorType().GetShape().GetDim()[1:] {
					n *= d.GetDimValue()
				}
				if n != tc.outElements[i] {
					t.Errorf("output %s: %d values per example, want %d", out.GetName(), n, tc.outElements[i])
				}
			}
		})
	}
}
