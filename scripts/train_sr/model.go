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
// augmentation level level [B] → the prediction [B,3,4h,4w] (the clean
// picture, or v; see -prediction).
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
	return depthToSpace(b, b.Add(out, bilinearCells(b, low, h, w)), h, w)
}

// bilinearCells is the bilinear enlargement of low [B,3,h,w] (half-pixel
// centres, edge pixels repeated), laid out as spaceToDepth lays out the
// picture: [B,48,h,w]. It is a constant 3x3 convolution, not trained:
// the network's prediction is a correction of it, so a network whose
// conv_out is zero already draws the bilinear picture and training only
// has to learn what sharpens it.
func bilinearCells(b *onnxexport.Builder, low *onnxexport.Value, h, w int64) *onnxexport.Value {
	// Pixel d of a low-resolution pixel's factor x factor block lies
	// (2d+1-factor)/(2·factor) low-resolution pixels from its centre; tap
	// k (0, 1, 2) weighs the pixel before, the pixel, the pixel after.
	taps := make([][3]float32, factor)
	for d := range factor {
		o := float32(2*d+1-factor) / (2 * factor)
		if o < 0 {
			taps[d] = [3]float32{-o, 1 + o, 0}
		} else {
			taps[d] = [3]float32{0, 1 - o, o}
		}
	}
	weights := make([]float32, cellChannels*3*3*3)
	for c := range 3 {
		for dy := range factor {
			for dx := range factor {
				out := c*factor*factor + dy*factor + dx
				for ky := range 3 {
					for kx := range 3 {
						weights[((out*3+c)*3+ky)*3+kx] = taps[dy][ky] * taps[dx][kx]
					}
				}
			}
		}
	}
	kernel := b.ConstFloat32([]int64{cellChannels, 3, 3, 3}, weights)
	return b.Conv(edgePad(b, low, h, w), kernel, nil, onnxexport.ConvOptions{Strides: []int64{1, 1}, Pads: []int64{0, 0, 0, 0}})
}

// edgePad pads x [B,C,h,w] by one pixel on every side, repeating the
// edge pixels.
func edgePad(b *onnxexport.Builder, x *onnxexport.Value, h, w int64) *onnxexport.Value {
	x = b.Concat(2, b.Slice(x, []int64{0}, []int64{1}, []int64{2}, nil), x, b.Slice(x, []int64{h - 1}, []int64{h}, []int64{2}, nil))
	return b.Concat(3, b.Slice(x, []int64{0}, []int64{1}, []int64{3}, nil), x, b.Slice(x, []int64{w - 1}, []int64{w}, []int64{3}, nil))
}

// srLoss builds the training loss on crops of crop x crop low-resolution
// pixels: inputs sample [B,3,4c,4c] (x_t), image [B,3,c,c] (the
// augmented low-resolution crop), timestep [B], noise_level [B] and
// target [B,3,4c,4c] (the clean crop, or v); loss MSE.
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
