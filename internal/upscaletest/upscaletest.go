// Package upscaletest writes random-weight super-resolution models in the
// I/O forms of Real-ESRGAN-style ONNX exports (input [1,3,H,W] in [0, 1],
// output [1,3,sH,sW]), for the tests and benchmarks of package upscale and
// of imagegen upscale.
package upscaletest

import (
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Config is one test model.
type Config struct {
	// Scale is the upscaling factor (DepthToSpace block size).
	Scale int
	// Side is the input's static height and width (a fixed-size export);
	// 0 makes batch, height and width symbolic (a dynamic export).
	Side int
	// Nearest makes the model an exact nearest-neighbour upscale: the
	// input repeated Scale² times along the channels, then DepthToSpace.
	// Otherwise the model is Layers random 3×3 convolutions of Features
	// channels with LeakyReLU between them, the last one to 3·Scale²
	// channels, then DepthToSpace. Each convolution pads by repeating
	// the edge pixels, so a constant picture gives a constant output.
	Nearest          bool
	Features, Layers int
	// UpsampleFirst puts the nearest-neighbour upscale before the random
	// convolutions (which then end with 3 channels), as SRCNN-style
	// models do, instead of the DepthToSpace after them of ESRGAN-style
	// ones: a constant picture then gives the same constant at every
	// output pixel, not a pattern repeating every Scale pixels.
	UpsampleFirst bool
	// InChannels is the input's channel count (0 means 3); 1 or 4 make a
	// model an RGB upscaler must refuse.
	InChannels int
	// Resize, when its entries are not zero, makes the model a
	// nearest-neighbour Resize by these height and width factors instead
	// (non-integer or unequal factors make a model that must be refused).
	Resize [2]float32
}

// Write writes the model of cfg, with weights drawn from seed, to path
// (a .onnx file; its folder is created).
func Write(path string, cfg Config, seed uint64) error {
	b := onnxexport.NewBuilder("upscaler")
	l := onnxexport.NewLayers(b, seed)
	inC := int64(cfg.InChannels)
	if inC == 0 {
		inC = 3
	}
	side := func(mult float32) onnxexport.Dim {
		if cfg.Side == 0 {
			return onnxexport.Dim{Size: -1}
		}
		return onnxexport.D(int64(float32(cfg.Side) * mult))
	}
	batch, h, w := onnxexport.D(1), side(1), side(1)
	if cfg.Side == 0 {
		batch, h, w = onnxexport.Sym("batch"), onnxexport.Sym("height"), onnxexport.Sym("width")
	}
	x := b.Input("input", onnxexport.Float32, batch, onnxexport.D(inC), h, w)
	s := int64(cfg.Scale)
	var y *onnxexport.Value
	switch {
	case cfg.Resize != [2]float32{}:
		scales := b.ConstFloat32([]int64{4}, []float32{1, 1, cfg.Resize[0], cfg.Resize[1]})
		attrs := []onnxexport.Attr{onnxexport.StringAttr("mode", "nearest")}
		y = b.Op("Resize", []*onnxexport.Value{x, nil, scales}, attrs, onnxexport.ValueType{DType: onnxexport.Float32,
			Shape: onnxexport.Shape{batch, onnxexport.D(inC), side(cfg.Resize[0]), side(cfg.Resize[1])}})[0]
	case cfg.Nearest:
		y = depthToSpace(b, b.Concat(1, repeat(x, s*s)...), s, side(float32(s)))
	default:
		if cfg.UpsampleFirst {
			x = depthToSpace(b, b.Concat(1, repeat(x, s*s)...), s, side(float32(s)))
		}
		for i := 0; i < cfg.Layers; i++ {
			out := int64(cfg.Features)
			switch {
			case i == cfg.Layers-1 && cfg.UpsampleFirst:
				out = 3
			case i == cfg.Layers-1:
				out = 3 * s * s
			}
			y0 := x
			if y != nil {
				y0 = b.LeakyRelu(y, 0.2)
			}
			y = l.Conv2d("conv"+string(rune('0'+i)), edgePad(b, y0), out, 3, onnxexport.Conv2dOptions{})
		}
		if !cfg.UpsampleFirst {
			y = depthToSpace(b, y, s, side(float32(s)))
		}
	}
	if cfg.Side == 0 {
		b.OutputAs("output", y, batch, onnxexport.D(y.Shape()[1].Size), onnxexport.Sym("out_height"), onnxexport.Sym("out_width"))
	} else {
		b.Output("output", y)
	}
	m, err := b.Build()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return onnxexport.Save(path, m)
}

// repeat returns n copies of x.
func repeat(x *onnxexport.Value, n int64) []*onnxexport.Value {
	xs := make([]*onnxexport.Value, n)
	for i := range xs {
		xs[i] = x
	}
	return xs
}

// edgePad pads x [N,C,H,W] by one pixel on each side, repeating the edge.
func edgePad(b *onnxexport.Builder, x *onnxexport.Value) *onnxexport.Value {
	sh := x.Shape()
	out := onnxexport.Shape{sh[0], sh[1], grow(sh[2], 2), grow(sh[3], 2)}
	pads := b.ConstInts(0, 0, 1, 1, 0, 0, 1, 1)
	return b.Op("Pad", []*onnxexport.Value{x, pads}, []onnxexport.Attr{onnxexport.StringAttr("mode", "edge")},
		onnxexport.ValueType{DType: x.DType(), Shape: out})[0]
}

// depthToSpace is ONNX DepthToSpace (DCR) by s on x [N, C·s², H, W],
// giving [N, C, side, side].
func depthToSpace(b *onnxexport.Builder, x *onnxexport.Value, s int64, side onnxexport.Dim) *onnxexport.Value {
	sh := x.Shape()
	out := onnxexport.Shape{sh[0], onnxexport.D(sh[1].Size / (s * s)), side, side}
	return b.Op("DepthToSpace", []*onnxexport.Value{x}, []onnxexport.Attr{onnxexport.IntAttr("blocksize", s), onnxexport.StringAttr("mode", "DCR")},
		onnxexport.ValueType{DType: x.DType(), Shape: out})[0]
}

func grow(d onnxexport.Dim, n int64) onnxexport.Dim {
	if !d.Known() {
		return onnxexport.Dim{Size: -1}
	}
	return onnxexport.D(d.Size + n)
}
