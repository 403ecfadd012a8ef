package main

import (
	"strconv"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// The stage's sizes: it turns the base model's lowSize x lowSize pictures
// into highSize x highSize ones.
const (
	lowSize  = 32
	factor   = 4
	highSize = lowSize * factor
	// cellChannels are the channels of one factor x factor block of the
	// high-resolution picture after space-to-depth.
	cellChannels = 3 * factor * factor
	// width is the network's channels, blocks its residual blocks and
	// embedDim the width of the time and noise-level embeddings.
	width    = 64
	blocks   = 5
	embedDim = 128
)

// spaceToDepth rearranges x [B,3,h·factor,w·factor] into
// [B,48,h,w] (channel c·16 + dy·4 + dx holds pixel (4y+dy, 4x+dx) of
// color c), as ONNX's SpaceToDepth in CRD order, written as Reshape and
// Transpose so the autodiff needs no new rule.
func spaceToDepth(b *onnxexport.Builder, x *onnxexport.Value, h, w int64) *onnxexport.Value {
	x = b.Reshape(x, -1, 3, h, factor, w, factor)
	x = b.Transpose(x, 0, 1, 3, 5, 2, 4)
	return b.Reshape(x, -1, cellChannels, h, w)
}

// depthToSpace is the inverse of spaceToDepth.
func depthToSpace(b *onnxexport.Builder, x *onnxexport.Value, h, w int64) *onnxexport.Value {
	x = b.Reshape(x, -1, 3, factor, factor, h, w)
	x = b.Transpose(x, 0, 1, 4, 2, 5, 3)
	return b.Reshape(x, -1, 3, h*factor, w*factor)
}

// resBlock is a residual block without normalization (EDSR's, with the
// embedding added between its convolutions as in diffusers'
// ResnetBlock2D): the network trains on crops and runs on whole
// pictures, and GroupNorm's statistics over a crop are not those over the
// picture.
func resBlock(l *onnxexport.Layers, name string, x, emb *onnxexport.Value) *onnxexport.Value {
	defer l.Scope(name)()
	same := onnxexport.Conv2dOptions{Padding: 1}
	h := l.Conv2d("conv1", l.SiLU(x), width, 3, same)
	e := l.Linear("emb_proj", l.SiLU(emb), width, true)
	h = l.Add(h, l.Unsqueeze(e, 2, 3))
	h = l.Conv2d("conv2", l.SiLU(h), width, 3, same)
	return l.Add(x, l.Mul(h, l.ScalarLike(h, 0.5)))
}

// srNet is the denoiser of the stage: the noisy high-resolution sample x
// [B,3,4h,4w] and the (noise-augmented) low-resolution picture low
// [B,3,h,w], both in [-1, 1], the diffusion timestep t [B] and the
// augmentation level level [B] → the v-prediction [B,3,4h,4w].
//
// The sample goes through a 4x4 space-to-depth stem, so the network works
// at the low-resolution picture's own grid, where low is concatenated
// channel-wise (SD x4 upscaler concatenates its low-resolution picture
// with the latents in the same way; upsampling it first by nearest
// neighbour would only repeat each of its values 16 times, and a
// bilinear upsampling is one fixed 3x3 convolution of it, which conv_in
// can learn).
func srNet(l *onnxexport.Layers, x, low, t, level *onnxexport.Value, h, w int64) *onnxexport.Value {
	b := l.Builder
	same := onnxexport.Conv2dOptions{Padding: 1}
	feat := l.Conv2d("conv_in", b.Concat(1, spaceToDepth(b, x, h, w), low), width, 3, same)
	emb := l.TimestepEmbedding("time_embedding", l.TimestepProjection(t, width, true, 0), embedDim)
	emb = l.Add(emb, l.TimestepEmbedding("noise_level_embedding", l.TimestepProjection(level, width, true, 0), embedDim))
	for i := range blocks {
		feat = resBlock(l, "blocks."+strconv.Itoa(i), feat, emb)
	}
	out := l.Conv2d("conv_out", l.SiLU(feat), cellChannels, 3, same)
	return depthToSpace(b, out, h, w)
}

// srLoss builds the training loss on crops of crop x crop low-resolution
// pixels: inputs sample [B,3,4c,4c] (x_t), image [B,3,c,c] (the
// augmented low-resolution crop), timestep [B], noise_level [B] and
// target [B,3,4c,4c] (v); loss MSE(v̂, v).
func srLoss(seed uint64, batch, crop int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("sr")
	l := onnxexport.NewLayers(b, seed)
	hi := crop * factor
	x := b.Input("sample", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(hi), onnxexport.D(hi))
	low := b.Input("image", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(crop), onnxexport.D(crop))
	t := b.Input("timestep", onnxexport.Float32, onnxexport.D(batch))
	level := b.Input("noise_level", onnxexport.Float32, onnxexport.D(batch))
	v := b.Input("target", onnxexport.Float32, onnxexport.D(batch), onnxexport.D(3), onnxexport.D(hi), onnxexport.D(hi))
	diff := b.Sub(srNet(l, x, low, t, level, crop, crop), v)
	return b, b.ReduceMean(b.Mul(diff, diff), false)
}

// newSRGraph is the exported denoiser: sample [batch_size,3,128,128],
// image [batch_size,3,32,32], timestep [batch_size], noise_level
// [batch_size] → out_sample [batch_size,3,128,128].
func newSRGraph() *onnxexport.Builder {
	b := onnxexport.NewBuilder("unet")
	l := onnxexport.NewLayers(b, 0)
	batch := onnxexport.Sym("batch_size")
	x := b.Input("sample", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(highSize), onnxexport.D(highSize))
	low := b.Input("image", onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(lowSize), onnxexport.D(lowSize))
	t := b.Input("timestep", onnxexport.Float32, batch)
	level := b.Input("noise_level", onnxexport.Float32, batch)
	b.OutputAs("out_sample", srNet(l, x, low, t, level, lowSize, lowSize), batch, onnxexport.D(3), onnxexport.D(highSize), onnxexport.D(highSize))
	return b
}
