package pipeline

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/ort"
)

// Tiled VAE: a picture too large to decode (or encode) at once is cut into
// overlapping tiles, each run alone, and the tiles' outputs are blended
// with linear ramps across the overlaps, so no seam shows where they meet.
// Each tile's GroupNorm sees its own statistics, so a tiled picture
// differs slightly from the whole one; the overlap hides the borders.

// defaultVAEBudget is the memory a whole-picture VAE run may take before
// it is tiled (Options.VAEMemoryBudget).
const defaultVAEBudget = 4 << 30

// vaeTileDefault is the pixel tile size automatic tiling uses, and
// vaeOverlapDefault the overlap (a quarter of it, as diffusers' tiled VAE).
const (
	vaeTileDefault    = 512
	vaeOverlapDefault = 128
)

// vaeTile returns the pixel tile size and overlap for an h×w picture: the
// forced size of Options.VAETile, the default size when the whole picture
// would exceed the memory budget, or 0 to run it whole.
func (p *diffusionPipeline) vaeTile(h, w int) (tile, overlap int) {
	if t := p.opts.VAETile; t > 0 {
		t = max(2*p.vaeScale, t/p.vaeScale*p.vaeScale)
		return t, max(p.vaeScale, t/4/p.vaeScale*p.vaeScale)
	}
	budget := p.opts.VAEMemoryBudget
	if budget <= 0 {
		budget = defaultVAEBudget
	}
	ch := 128
	if len(p.vae.BlockOutChannels) > 0 {
		ch = p.vae.BlockOutChannels[0]
	}
	// A few activations of the last up block at full resolution are live
	// at once: the SD 1.5 decoder's whole 1024² decode on the CPU grew
	// the process by 3.8 GiB, 7.5 float32 activations of 128 channels
	// (TestVAEDecodeRSS); 8 keeps 1024² whole under the default budget.
	if int64(h)*int64(w)*int64(ch)*4*8 <= budget || (h <= vaeTileDefault && w <= vaeTileDefault) {
		return 0, 0
	}
	return vaeTileDefault, vaeOverlapDefault
}

// tiledSpec describes one tiled run: in [1, inC, inH, inW] → out
// [1, outC, inH·num/den, inW·num/den], tiles of tile input units
// overlapping by overlap.
type tiledSpec struct {
	sess          *ort.Session
	inName        string
	outName       string
	inC, inH, inW int
	num, den      int // output size = input size · num / den
	tile, overlap int // in input units
}

// tileStarts returns the offsets of tiles of size tile covering n with at
// least overlap shared between neighbours; the last tile ends at n.
func tileStarts(n, tile, overlap, align int) []int {
	if tile >= n {
		return []int{0}
	}
	stride := max(align, (tile-overlap)/align*align)
	var starts []int
	for s := 0; ; s += stride {
		if s+tile >= n {
			starts = append(starts, (n-tile)/align*align)
			return starts
		}
		starts = append(starts, s)
	}
}

// ramp returns the blending weight of position i in a tile of n outputs
// whose sides before and after overlap neighbours by ov outputs.
func ramp(i, n, ov int, before, after bool) float32 {
	w := float32(1)
	if before && i < ov {
		w = min(w, (float32(i)+0.5)/float32(ov))
	}
	if after && n-1-i < ov {
		w = min(w, (float32(n-1-i)+0.5)/float32(ov))
	}
	return w
}

// run runs the model tile by tile and returns the blended output and its
// channel count.
func (s tiledSpec) run(ctx context.Context, in []float32) ([]float32, int, error) {
	align := max(1, s.den) // encoder tiles start on latent pixels
	ys := tileStarts(s.inH, min(s.tile, s.inH), s.overlap, align)
	xs := tileStarts(s.inW, min(s.tile, s.inW), s.overlap, align)
	outH, outW := s.inH*s.num/s.den, s.inW*s.num/s.den
	var acc, wsum []float32
	outC := 0
	crop := make([]float32, 0)
	for yi, y0 := range ys {
		th := min(s.tile, s.inH)
		for xi, x0 := range xs {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			tw := min(s.tile, s.inW)
			crop = crop[:0]
			for c := 0; c < s.inC; c++ {
				for y := y0; y < y0+th; y++ {
					row := in[(c*s.inH+y)*s.inW:]
					crop = append(crop, row[x0:x0+tw]...)
				}
			}
			var out ort.Tensor
			feed := map[string]ort.Tensor{s.inName: {Shape: []int64{1, int64(s.inC), int64(th), int64(tw)}, F32: crop}}
			if err := s.sess.Run(ctx, feed, map[string]*ort.Tensor{s.outName: &out}); err != nil {
				return nil, 0, err
			}
			oh, ow := th*s.num/s.den, tw*s.num/s.den
			if len(out.Shape) != 4 || int(out.Shape[2]) != oh || int(out.Shape[3]) != ow {
				return nil, 0, fmt.Errorf("tile of %dx%d gave shape %v, want [1, C, %d, %d]", th, tw, out.Shape, oh, ow)
			}
			if acc == nil {
				outC = int(out.Shape[1])
				acc = make([]float32, outC*outH*outW)
				wsum = make([]float32, outH*outW)
			}
			oy, ox := y0*s.num/s.den, x0*s.num/s.den
			ovY := s.overlap * s.num / s.den
			for y := 0; y < oh; y++ {
				wy := ramp(y, oh, ovY, yi > 0, yi < len(ys)-1)
				for x := 0; x < ow; x++ {
					wgt := wy * ramp(x, ow, ovY, xi > 0, xi < len(xs)-1)
					k := (oy+y)*outW + ox + x
					wsum[k] += wgt
					for c := 0; c < outC; c++ {
						acc[c*outH*outW+k] += wgt * out.F32[(c*oh+y)*ow+x]
					}
				}
			}
		}
	}
	for k, wv := range wsum {
		for c := 0; c < outC; c++ {
			acc[c*outH*outW+k] /= wv
		}
	}
	return acc, outC, nil
}
