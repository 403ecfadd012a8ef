package tiling

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/ort"
)

// Spec describes one tiled run of a model with one image input and one
// image output: input [1, C, H, W] → output [1, outC, H·Num/Den,
// W·Num/Den], tiles of TileH×TileW input units (clamped to the picture)
// overlapping by Overlap input units.
type Spec struct {
	Session       *ort.Session
	Input, Output string
	C, H, W       int
	Num, Den      int
	TileH, TileW  int
	Overlap       int
	// Progress, when set, is called after each tile with the tiles done
	// and their total.
	Progress func(done, total int)
}

// Run runs the model tile by tile on in (C×H×W, channel-major) and
// returns the blended output and its channel count. Tiles start on
// multiples of Den, so an encoder's tiles start on whole output pixels.
func (s Spec) Run(ctx context.Context, in []float32) ([]float32, int, error) {
	if s.Num < 1 || s.Den < 1 || s.TileH < 1 || s.TileW < 1 || s.Overlap < 0 {
		return nil, 0, fmt.Errorf("tiling: bad spec: scale %d/%d, tile %dx%d, overlap %d", s.Num, s.Den, s.TileW, s.TileH, s.Overlap)
	}
	if len(in) != s.C*s.H*s.W {
		return nil, 0, fmt.Errorf("tiling: input holds %d values, want %d×%d×%d", len(in), s.C, s.H, s.W)
	}
	th, tw := min(s.TileH, s.H), min(s.TileW, s.W)
	ys := Starts(s.H, th, s.Overlap, s.Den)
	xs := Starts(s.W, tw, s.Overlap, s.Den)
	outH, outW := s.H*s.Num/s.Den, s.W*s.Num/s.Den
	oh, ow := th*s.Num/s.Den, tw*s.Num/s.Den
	ov := s.Overlap * s.Num / s.Den
	var blend *Blender
	outC := 0
	crop := make([]float32, 0, s.C*th*tw)
	total := len(ys) * len(xs)
	for yi, y0 := range ys {
		for xi, x0 := range xs {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			crop = crop[:0]
			for c := 0; c < s.C; c++ {
				for y := y0; y < y0+th; y++ {
					row := in[(c*s.H+y)*s.W:]
					crop = append(crop, row[x0:x0+tw]...)
				}
			}
			var out ort.Tensor
			feed := map[string]ort.Tensor{s.Input: {Shape: []int64{1, int64(s.C), int64(th), int64(tw)}, F32: crop}}
			if err := s.Session.Run(ctx, feed, map[string]*ort.Tensor{s.Output: &out}); err != nil {
				return nil, 0, err
			}
			if len(out.Shape) != 4 || out.Shape[0] != 1 || out.Shape[1] < 1 || int(out.Shape[2]) != oh || int(out.Shape[3]) != ow {
				return nil, 0, fmt.Errorf("tile of %dx%d gave shape %v, want [1, C, %d, %d]", tw, th, out.Shape, oh, ow)
			}
			if blend == nil {
				outC = int(out.Shape[1])
				blend = NewBlender(outC, outH, outW)
			} else if int(out.Shape[1]) != outC {
				return nil, 0, fmt.Errorf("tile of %dx%d gave %d channels, the first tile %d", tw, th, out.Shape[1], outC)
			}
			e := Edges{Top: yi > 0, Bottom: yi < len(ys)-1, Left: xi > 0, Right: xi < len(xs)-1}
			blend.Add(out.F32, oh, ow, y0*s.Num/s.Den, x0*s.Num/s.Den, ov, e)
			if s.Progress != nil {
				s.Progress(yi*len(xs)+xi+1, total)
			}
		}
	}
	return blend.Result(), outC, nil
}
