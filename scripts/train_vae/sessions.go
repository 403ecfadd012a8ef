package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// cvae runs a trained encoder and decoder with ONNX Runtime, either
// built from weights in memory (the monitor during training) or opened
// from an exported folder (the final figures).
type cvae struct {
	enc, dec *ort.Session
	// latent is the number of latent values per example; dims their
	// dimensions ([Z] or [C,H,W]).
	latent int64
	dims   []int64
	logStd [3]float64
}

// openWeights builds the inference graphs with weights w (float32).
func openWeights(cfg config, w map[string]*onnxexport.Tensor, threads int) (*cvae, error) {
	m := &cvae{latent: cfg.latentSize(), dims: cfg.latentDims()}
	ls, err := w["decoder.log_std"].AsFloat32()
	if err != nil {
		return nil, err
	}
	for i := range m.logStd {
		m.logStd[i] = logStdScale * float64(ls[i])
	}
	for _, g := range []struct {
		b    *onnxexport.Builder
		dest **ort.Session
	}{{encoderGraph(cfg), &m.enc}, {decoderGraph(cfg), &m.dec}} {
		if err := g.b.LoadParams(w); err != nil {
			m.close()
			return nil, err
		}
		mp, err := g.b.Build()
		if err != nil {
			m.close()
			return nil, err
		}
		data, err := proto.Marshal(mp)
		if err != nil {
			m.close()
			return nil, err
		}
		if *g.dest, err = ort.OpenBytes(g.b.Name(), data, ort.Options{IntraOpThreads: threads}); err != nil {
			m.close()
			return nil, err
		}
	}
	return m, nil
}

// openExported opens the model in folder dir (as export writes it).
func openExported(dir string, threads int) (*cvae, error) {
	var cfg componentConfig
	raw, err := os.ReadFile(filepath.Join(dir, "decoder", "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: decoder config: %w", dir, err)
	}
	dims := cfg.LatentShape
	if cfg.LatentDim > 0 {
		dims = []int64{cfg.LatentDim}
	}
	if len(cfg.OutputLogStd) != 3 || len(dims) == 0 {
		return nil, fmt.Errorf("%s: decoder config: want latent_dim or latent_shape, and 3 output_log_std", dir)
	}
	m := &cvae{latent: 1, dims: dims}
	for _, d := range dims {
		m.latent *= d
	}
	copy(m.logStd[:], cfg.OutputLogStd)
	if m.enc, err = ort.Open(filepath.Join(dir, "encoder", "model.onnx"), ort.Options{IntraOpThreads: threads}); err != nil {
		return nil, err
	}
	if m.dec, err = ort.Open(filepath.Join(dir, "decoder", "model.onnx"), ort.Options{IntraOpThreads: threads}); err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

func (m *cvae) close() {
	for _, s := range []*ort.Session{m.enc, m.dec} {
		if s != nil {
			s.Close()
		}
	}
}

// encode returns the posterior means and log-variances [n,Z] of n
// pictures x [n,3,32,32] with conditions c [n,70].
func (m *cvae) encode(ctx context.Context, x, c []float32, n int) (mean, logvar []float32, err error) {
	out := map[string]*ort.Tensor{outMean: {}, outLogvar: {}}
	in := map[string]ort.Tensor{
		inSample:    {Shape: []int64{int64(n), 3, imageSize, imageSize}, F32: x},
		inCondition: {Shape: []int64{int64(n), shapes.ConditionSize}, F32: c},
	}
	if err := m.enc.Run(ctx, in, out); err != nil {
		return nil, nil, err
	}
	return out[outMean].F32, out[outLogvar].F32, nil
}

// decode returns the decoder's means [n,3,32,32] of n latents z [n,Z]
// with conditions c [n,70].
func (m *cvae) decode(ctx context.Context, z, c []float32, n int) ([]float32, error) {
	out := map[string]*ort.Tensor{outSample: {}}
	in := map[string]ort.Tensor{
		inLatent:    {Shape: append([]int64{int64(n)}, m.dims...), F32: z},
		inCondition: {Shape: []int64{int64(n), shapes.ConditionSize}, F32: c},
	}
	if err := m.dec.Run(ctx, in, out); err != nil {
		return nil, err
	}
	return out[outSample].F32, nil
}
