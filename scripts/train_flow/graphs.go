package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Names of the exported graphs' inputs and outputs (the contract the
// pipeline's flow family reads).
const (
	inSample, inCondition, inLatent = "sample", "condition", "latent"
	outLatent, outLogdet, outSample = "latent", "logdet", "sample"
)

func newFlow(b *onnxexport.Builder, cfg config, seed uint64) *flow {
	return &flow{cfg: cfg, l: onnxexport.NewLayers(b, seed), rng: rand.New(rand.NewPCG(seed, 77))}
}

// trainLoss builds the training loss on a batch: inputs image
// [B,3,S,S] (dequantized, in [-1, 1]) and condition [B,C]. The loss is
// the exact negative log-likelihood per dimension in nats,
// −mean_b log p(x | c)/D, so that loss/ln 2 + 7 is the batch's bits/dim
// on the 256-level scale.
func trainLoss(cfg config, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("cflow")
	f := newFlow(b, cfg, seed)
	x := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Channels), onnxexport.D(cfg.Size), onnxexport.D(cfg.Size))
	c := b.Input("condition", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Condition))
	eps, logdet := f.forward(x, c)
	logp := b.Add(logdet, b.ReduceSum(standardNormalLog(b, eps), false, 1))
	return b, b.Mul(b.ReduceMean(logp, false), b.ScalarLike(logp, -1/float64(cfg.dims())))
}

// standardNormalLog is log N(e; 0, 1) elementwise.
func standardNormalLog(b *onnxexport.Builder, e *onnxexport.Value) *onnxexport.Value {
	return b.Sub(b.Mul(b.Mul(e, e), b.ScalarLike(e, -0.5)), b.ScalarLike(e, 0.5*math.Log(2*math.Pi)))
}

// initGraph is the forward graph in data-dependent-initialization mode:
// every actnorm normalizes by its batch statistics and outputs the bias
// and log-scale that do so (named as the parameters).
func initGraph(cfg config, batch int64) (*onnxexport.Builder, []string) {
	b := onnxexport.NewBuilder("cflow_init")
	f := newFlow(b, cfg, 0)
	f.init = true
	f.initStats = map[string]*onnxexport.Value{}
	x := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Channels), onnxexport.D(cfg.Size), onnxexport.D(cfg.Size))
	c := b.Input("condition", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Condition))
	f.forward(x, c)
	var names []string
	for name, v := range f.initStats {
		b.Output(initPrefix+name, v)
		names = append(names, name)
	}
	return b, names
}

// encoderGraph is the exported forward flow: sample [batch,3,S,S] in
// [-1, 1] and condition [batch,C] → latent [batch,D] (standard normal
// under the model) and logdet [batch].
func encoderGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("cflow_encoder")
	f := newFlow(b, cfg, 0)
	batch := onnxexport.Sym("batch")
	x := b.Input(inSample, onnxexport.Float32, batch, onnxexport.D(cfg.Channels), onnxexport.D(cfg.Size), onnxexport.D(cfg.Size))
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(cfg.Condition))
	eps, logdet := f.forward(x, c)
	b.OutputAs(outLatent, eps, batch, onnxexport.D(cfg.dims()))
	b.OutputAs(outLogdet, logdet, batch)
	return b
}

// decoderGraph is the exported inverse flow: latent [batch,D] and
// condition [batch,C] → sample [batch,3,S,S] in [-1, 1] units. inv holds
// each invertible convolution's inverse weight by scope (invWeights).
func decoderGraph(cfg config, inv map[string][]float32) *onnxexport.Builder {
	b := onnxexport.NewBuilder("cflow_decoder")
	f := newFlow(b, cfg, 0)
	f.inv = inv
	batch := onnxexport.Sym("batch")
	z := b.Input(inLatent, onnxexport.Float32, batch, onnxexport.D(cfg.dims()))
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(cfg.Condition))
	b.OutputAs(outSample, f.inverse(z, c), batch, onnxexport.D(cfg.Channels), onnxexport.D(cfg.Size), onnxexport.D(cfg.Size))
	return b
}

// invWeights computes every invertible convolution's W⁻¹ on the host
// from the trained LU factors in w, after rounding them as export
// rounds them (to float16 when half is set), so that the decoder undoes
// exactly the convolution the exported encoder computes.
func invWeights(cfg config, w map[string]*onnxexport.Tensor, half bool) (map[string][]float32, error) {
	out := map[string][]float32{}
	for lv := range cfg.levels() {
		ch := cfg.Channels * 4
		for range lv {
			ch *= 2
		}
		for k := range cfg.Steps[lv] {
			scope := fmtScope(lv, k) + ".invconv"
			var p [3][]float32
			for i, n := range []string{"lower", "upper", "logs"} {
				t, ok := w[scope+"."+n]
				if !ok {
					return nil, errMissing(scope + "." + n)
				}
				v, err := t.AsFloat32()
				if err != nil {
					return nil, err
				}
				if half {
					v = roundHalf(v)
				}
				p[i] = v
			}
			inv, err := invert(luWeight(p[0], p[1], p[2], int(ch)), int(ch))
			if err != nil {
				return nil, err
			}
			f := make([]float32, len(inv))
			for i, v := range inv {
				f[i] = float32(v)
			}
			out[scope] = f
		}
	}
	return out, nil
}

// fmtScope is the parameter scope of level lv's flow step k.
func fmtScope(lv, k int) string { return fmt.Sprintf("level%d.step%d", lv, k) }

func errMissing(name string) error { return fmt.Errorf("parameter %q missing from the weights", name) }

// roundHalf returns v rounded to float16 and back, as export stores it.
func roundHalf(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = onnxexport.Float16ToFloat32(onnxexport.Float32ToFloat16(x))
	}
	return out
}

// initPrefix starts the names of the initialization graph's outputs
// (the parameters' names are taken by their initializers).
const initPrefix = "init:"
