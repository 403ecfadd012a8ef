package main

import (
	"fmt"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// imageSize is the side of the shapes pictures the model encodes.
const imageSize = 32

// codebookParam is the codebook's name among the exported graphs'
// parameters; in the training graph it is the host input codebookInput.
const (
	codebookParam = "quantize.codebook"
	codebookInput = "codebook"
)

// arch is the VQ-VAE's shape: a latent grid of grid x grid tokens, each
// one of codes vectors of dim floats. The shipped model is 16x16 tokens
// of 1024 codes of dim 32; 8x8 tokens (4x4-pixel patches) reconstructed
// far worse at equal steps (the README has the figures).
type arch struct {
	grid  int64
	codes int64
	dim   int64
}

// vae returns the convolutional encoder and decoder around the quantizer:
// AutoencoderKL's blocks (package onnx_export) with one level per factor
// of 2 between the picture and the grid. The encoder's output, which a
// KL-VAE splits into mean and log-variance, is taken whole as z_e, so its
// LatentChannels is half the code dim; the decoder reads codes of dim
// channels.
func (a arch) vae() (enc, dec onnxexport.VAEConfig, err error) {
	levels := map[int64][]int64{16: {32, 64}, 8: {32, 64, 96}}[a.grid]
	if levels == nil {
		return enc, dec, fmt.Errorf("latent grid %d: want 16 or 8", a.grid)
	}
	if a.dim%2 != 0 || a.codes < 2 {
		return enc, dec, fmt.Errorf("code dim %d must be even and codebook size %d at least 2", a.dim, a.codes)
	}
	enc = onnxexport.VAEConfig{InChannels: 3, OutChannels: 3, LatentChannels: a.dim / 2,
		BlockOutChannels: levels, LayersPerBlock: 1, NormGroups: 16, SampleSize: imageSize}
	dec = enc
	dec.LatentChannels = a.dim
	return enc, dec, nil
}

// nearestCodes returns the index of the code nearest (in L2) to each row
// of z [N,D] among the rows of codebook [K,D]: argmin over k of
// ‖c_k‖² − 2 z·c_k, the distance less ‖z‖², which does not change the
// order.
func nearestCodes(b *onnxexport.Builder, z, codebook *onnxexport.Value) *onnxexport.Value {
	sq := b.Reshape(b.ReduceSum(b.Mul(codebook, codebook), false, 1), 1, -1)
	dots := b.MatMul(z, b.Transpose(codebook, 1, 0))
	return b.ArgMin(b.Sub(sq, b.Mul(dots, b.ScalarLike(dots, 2))), 1, false)
}

// toRows turns z [B,D,H,W] into rows [B*H*W, D], in the order of the
// tokens (row-major over the grid, picture after picture).
func toRows(b *onnxexport.Builder, z *onnxexport.Value, dim int64) *onnxexport.Value {
	return b.Reshape(b.Transpose(z, 0, 2, 3, 1), -1, dim)
}

// vqLoss builds the training step's loss on a batch: inputs image
// [B,3,S,S] in [-1,1], weight [B,1,S,S] (lossweight.Outline) and the host
// input codebook [K,D] (the EMA codebook, set between steps); loss the
// weighted L1 of the reconstruction plus beta times the commitment loss
// mean((z_e − sg(q))²). The decoder reads z_e + sg(q − z_e), the
// straight-through estimator: the codes forward, the identity backward.
// The codebook gets no gradient: it is not a parameter, and the host
// moves it with the auxiliary outputs z_e [B*g*g, D] and indices [B*g*g].
func vqLoss(a arch, seed uint64, batch int64, beta float64) (*onnxexport.Builder, *onnxexport.Value, *onnxexport.Value, error) {
	encCfg, decCfg, err := a.vae()
	if err != nil {
		return nil, nil, nil, err
	}
	b := onnxexport.NewBuilder("vqvae")
	l := onnxexport.NewLayers(b, seed)
	img := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	w := b.Input("weight", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(1), onnxexport.D(imageSize), onnxexport.D(imageSize))
	codebook := b.Input(codebookInput, onnxexport.Float32, onnxexport.D(a.codes), onnxexport.D(a.dim))
	ze := l.VAEEncoder(encCfg, img)
	rows := toRows(b, ze, a.dim)
	idx := nearestCodes(b, rows, codebook)
	q := b.Transpose(b.Reshape(b.Gather(codebook, idx, 0), batch, a.grid, a.grid, a.dim), 0, 3, 1, 2)
	st := b.Add(ze, b.StopGradient(b.Sub(q, ze)))
	rec := l.VAEDecoder(decCfg, st)
	recLoss := b.ReduceMean(b.Mul(b.Abs(b.Sub(rec, img)), w), false)
	commit := b.MSELoss(ze, q)
	b.Output(auxZ, rows)
	b.Output(auxIndices, idx)
	return b, b.Add(recLoss, b.Mul(commit, b.ScalarLike(commit, beta))), codebook, b.Err()
}

// Names of the training graph's auxiliary outputs.
const (
	auxZ       = "z_e"
	auxIndices = "indices"
)

// encoderGraph is the exported encoder: sample [batch,3,S,S] in [-1,1] →
// indices int64 [batch,g,g], the codebook a parameter.
func encoderGraph(a arch) *onnxexport.Builder {
	b := onnxexport.NewBuilder("vq_encoder")
	l := onnxexport.NewLayers(b, 0)
	encCfg, _, err := a.vae()
	if err != nil {
		b.Fail("vq_encoder", err)
		return b
	}
	x := b.Input("sample", onnxexport.Float32, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	codebook := b.Param(codebookParam, onnxexport.NewFloat32([]int64{a.codes, a.dim}, make([]float32, a.codes*a.dim)))
	idx := nearestCodes(b, toRows(b, l.VAEEncoder(encCfg, x), a.dim), codebook)
	b.OutputAs("indices", b.Reshape(idx, -1, a.grid, a.grid), onnxexport.Sym("batch"), onnxexport.D(a.grid), onnxexport.D(a.grid))
	return b
}

// decoderGraph is the exported decoder: indices int64 [batch,g,g] →
// sample [batch,3,S,S], clamped to [-1,1].
func decoderGraph(a arch) *onnxexport.Builder {
	b := onnxexport.NewBuilder("vq_decoder")
	l := onnxexport.NewLayers(b, 0)
	_, decCfg, err := a.vae()
	if err != nil {
		b.Fail("vq_decoder", err)
		return b
	}
	idx := b.Input("indices", onnxexport.Int64, onnxexport.Sym("batch"), onnxexport.D(a.grid), onnxexport.D(a.grid))
	codebook := b.Param(codebookParam, onnxexport.NewFloat32([]int64{a.codes, a.dim}, make([]float32, a.codes*a.dim)))
	q := b.Transpose(b.Gather(codebook, idx, 0), 0, 3, 1, 2)
	rec := l.VAEDecoder(decCfg, q)
	rec = b.Max(b.Min(rec, b.ScalarLike(rec, 1)), b.ScalarLike(rec, -1))
	b.OutputAs("sample", rec, onnxexport.Sym("batch"), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	return b
}
