// Package familytest writes tiny random-weight checkpoints of imagegen's own
// families (VAE, VQ-VAE, GAN, flow, PixelCNN) in their folder layout, and of
// the video families (SVD, AnimateDiff) in the public ONNX conversions' I/O
// form, so tests of the pipeline and the CLI run without real weights. The networks are the
// smallest graphs with the right inputs and outputs, not the real
// architectures.
package familytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Sizes of the tiny checkpoints.
const (
	SampleSize   = 32
	LatentDim    = 8
	CodebookSize = 16
	CodeGrid     = 8 // codes per side (one per 4x4 pixels)
	conditionLen = 70
)

// WriteVAE writes a tiny ImagegenVAEPipeline folder to dir.
func WriteVAE(dir string, seed uint64) error {
	dec := onnxexport.NewBuilder("cvae_decoder")
	l := onnxexport.NewLayers(dec, seed)
	z := dec.Input("latent", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(LatentDim))
	c := dec.Input("condition", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(conditionLen))
	h := l.Linear("fc", dec.Concat(1, z, c), 3*SampleSize*SampleSize, true)
	dec.Output("sample", dec.Tanh(dec.Reshape(h, -1, 3, SampleSize, SampleSize)))

	enc := onnxexport.NewBuilder("cvae_encoder")
	le := onnxexport.NewLayers(enc, seed+1)
	x := enc.Input("sample", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(SampleSize), onnxexport.D(SampleSize))
	ce := enc.Input("condition", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(conditionLen))
	flat := enc.Concat(1, enc.Reshape(x, -1, 3*SampleSize*SampleSize), ce)
	enc.Output("mean", le.Linear("mean", flat, LatentDim, true))
	enc.Output("logvar", enc.Sub(le.Linear("logvar", flat, LatentDim, true), enc.ScalarLike(flat, 2)))

	cfg := map[string]any{"latent_dim": LatentDim, "condition_size": conditionLen, "sample_size": SampleSize,
		"output_log_std": []float64{-2, -2, -2}, "likelihood": "gaussian"}
	idx := map[string]any{"_class_name": "ImagegenVAEPipeline", "_imagegen_family": "vae", "conditioning": "shapes-attributes",
		"encoder": []string{"imagegen", "CVAEEncoder"}, "decoder": []string{"imagegen", "CVAEDecoder"},
		"imagegen_defaults": map[string]any{"height": SampleSize, "width": SampleSize}}
	return write(dir, idx, map[string]*onnxexport.Builder{"decoder": dec, "encoder": enc}, cfg)
}

// PriorComponents is the mixture size of WriteVAEWithPrior's prior.
const PriorComponents = 3

// WriteVAEWithPrior writes WriteVAE's folder plus a learned mixture prior
// p(z | c) in prior/: linear maps from the condition to the mixture's
// logits, means and log scales.
func WriteVAEWithPrior(dir string, seed uint64) error {
	if err := WriteVAE(dir, seed); err != nil {
		return err
	}
	b := onnxexport.NewBuilder("cvae_prior")
	l := onnxexport.NewLayers(b, seed+2)
	c := b.Input("condition", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(conditionLen))
	b.Output("logits", l.Linear("logits", c, PriorComponents, true))
	b.Output("mean", b.Reshape(l.Linear("mean", c, PriorComponents*LatentDim, true), -1, PriorComponents, LatentDim))
	ls := l.Linear("logstd", c, PriorComponents*LatentDim, true)
	b.Output("logstd", b.Reshape(b.Sub(b.Mul(ls, b.ScalarLike(ls, 0.1)), b.ScalarLike(ls, 1)), -1, PriorComponents, LatentDim))
	m, err := b.Build()
	if err != nil {
		return fmt.Errorf("familytest: prior: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "prior"), 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(dir, "prior", "model.onnx"), m); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "prior", "config.json"), map[string]any{
		"components": PriorComponents, "latent_dim": LatentDim, "condition_size": conditionLen, "temperature": 0.8})
}

// WriteVQVAE writes a tiny ImagegenVQVAEPipeline folder to dir: the
// encoder picks, for each 4x4 patch, the code whose projection is largest;
// the decoder paints each patch with its code's 4x4x3 pattern.
func WriteVQVAE(dir string, seed uint64) error {
	enc := onnxexport.NewBuilder("vq_encoder")
	l := onnxexport.NewLayers(enc, seed)
	x := enc.Input("sample", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(SampleSize), onnxexport.D(SampleSize))
	scores := l.Conv2d("proj", x, CodebookSize, 4, onnxexport.Conv2dOptions{Stride: 4})
	enc.Output("indices", enc.ArgMax(scores, 1, false))

	dec := onnxexport.NewBuilder("vq_decoder")
	ld := onnxexport.NewLayers(dec, seed+1)
	ids := dec.Input("indices", onnxexport.Int64, onnxexport.Sym("batch"), onnxexport.D(CodeGrid), onnxexport.D(CodeGrid))
	book := ld.Embedding("codebook", ids, CodebookSize, 3*4*4, 0.5) // [B, 8, 8, 48]
	p := dec.Reshape(book, -1, CodeGrid, CodeGrid, 3, 4, 4)
	p = dec.Transpose(p, 0, 3, 1, 4, 2, 5) // [B, 3, 8, 4, 8, 4]
	dec.Output("sample", dec.Tanh(dec.Reshape(p, -1, 3, SampleSize, SampleSize)))

	cfg := map[string]any{"codebook_size": CodebookSize, "code_dim": 48, "latent_size": []int{CodeGrid, CodeGrid}, "sample_size": SampleSize, "in_channels": 3}
	idx := map[string]any{"_class_name": "ImagegenVQVAEPipeline", "_imagegen_family": "vqvae",
		"vq_encoder": []string{"imagegen", "VQEncoder"}, "vq_decoder": []string{"imagegen", "VQDecoder"},
		"imagegen_defaults": map[string]any{"height": SampleSize, "width": SampleSize}}
	return write(dir, idx, map[string]*onnxexport.Builder{"vq_encoder": enc, "vq_decoder": dec}, cfg)
}

// WriteGAN writes a tiny ImagegenGANPipeline folder to dir: a generator
// that maps [z, condition] by one linear layer and tanh to a picture.
func WriteGAN(dir string, seed uint64) error {
	g := onnxexport.NewBuilder("cgan_generator")
	l := onnxexport.NewLayers(g, seed)
	z := g.Input("z", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(LatentDim))
	c := g.Input("condition", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(conditionLen))
	h := l.Linear("fc", g.Concat(1, z, c), 3*SampleSize*SampleSize, true)
	g.Output("sample", g.Tanh(g.Reshape(h, -1, 3, SampleSize, SampleSize)))
	cfg := map[string]any{"latent_dim": LatentDim, "condition_size": conditionLen, "sample_size": SampleSize, "truncation": "scale"}
	idx := map[string]any{"_class_name": "ImagegenGANPipeline", "_imagegen_family": "gan", "conditioning": "shapes-attributes",
		"generator":         []string{"imagegen", "ConditionalGenerator"},
		"imagegen_defaults": map[string]any{"height": SampleSize, "width": SampleSize}}
	return write(dir, idx, map[string]*onnxexport.Builder{"generator": g}, cfg)
}

// FlowTemperature is the default temperature of WriteFlow's checkpoint.
const FlowTemperature = 0.7

// WriteFlow writes a tiny ImagegenFlowPipeline folder to dir: an
// elementwise affine flow, latent = (x − m(c))·exp(−s) with m a linear
// map of the condition and s a fixed log-scale per value, and its exact
// inverse; logdet = −Σ s.
func WriteFlow(dir string, seed uint64) error {
	const d = 3 * SampleSize * SampleSize
	logScale := func(b *onnxexport.Builder) *onnxexport.Value {
		v := make([]float32, d)
		for i := range v {
			v[i] = float32(i%7)*0.1 - 0.3
		}
		return b.ConstFloat32([]int64{1, d}, v)
	}
	batch := onnxexport.Sym("batch")
	enc := onnxexport.NewBuilder("flow_encoder")
	le := onnxexport.NewLayers(enc, seed)
	x := enc.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(SampleSize), onnxexport.D(SampleSize))
	c := enc.Input("condition", onnxexport.Float32, batch, onnxexport.D(conditionLen))
	s := logScale(enc)
	z := enc.Mul(enc.Sub(enc.Reshape(x, -1, d), le.Linear("shift", c, d, true)), enc.Exp(enc.Neg(s)))
	enc.Output("latent", z)
	enc.Output("logdet", enc.ReduceSum(enc.Sub(enc.Mul(z, enc.ScalarLike(z, 0)), s), false, 1))

	dec := onnxexport.NewBuilder("flow_decoder")
	ld := onnxexport.NewLayers(dec, seed)
	zi := dec.Input("latent", onnxexport.Float32, batch, onnxexport.D(d))
	ci := dec.Input("condition", onnxexport.Float32, batch, onnxexport.D(conditionLen))
	xo := dec.Add(dec.Mul(zi, dec.Exp(logScale(dec))), ld.Linear("shift", ci, d, true))
	dec.Output("sample", dec.Reshape(xo, -1, 3, SampleSize, SampleSize))

	cfg := map[string]any{"latent_dim": d, "condition_size": conditionLen, "sample_size": SampleSize, "temperature": FlowTemperature}
	idx := map[string]any{"_class_name": "ImagegenFlowPipeline", "_imagegen_family": "flow", "conditioning": "shapes-attributes",
		"flow_encoder": []string{"imagegen", "FlowEncoder"}, "flow_decoder": []string{"imagegen", "FlowDecoder"},
		"imagegen_defaults": map[string]any{"height": SampleSize, "width": SampleSize}}
	return write(dir, idx, map[string]*onnxexport.Builder{"flow_encoder": enc, "flow_decoder": dec}, cfg)
}

func write(dir string, index map[string]any, comps map[string]*onnxexport.Builder, cfg map[string]any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "model_index.json"), index); err != nil {
		return err
	}
	for name, b := range comps {
		m, err := b.Build()
		if err != nil {
			return fmt.Errorf("familytest: %s: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := onnxexport.Save(filepath.Join(dir, name, "model.onnx"), m); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(dir, name, "config.json"), cfg); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}
