package tiling

// Starts returns the offsets of tiles of size tile covering n with at
// least overlap shared between neighbours, each a multiple of align; the
// last tile ends at n (or at n rounded down to align).
func Starts(n, tile, overlap, align int) []int {
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

// Ramp returns the blending weight of position i in a tile of n outputs
// whose sides before and after overlap neighbours by ov outputs: it rises
// linearly over the first ov positions of a side with a neighbour, and is
// 1 elsewhere. It is never zero, so every output has some weight.
func Ramp(i, n, ov int, before, after bool) float32 {
	w := float32(1)
	if before && i < ov {
		w = min(w, (float32(i)+0.5)/float32(ov))
	}
	if after && n-1-i < ov {
		w = min(w, (float32(n-1-i)+0.5)/float32(ov))
	}
	return w
}

// Blender accumulates weighted tiles of a C×H×W output (channel-major).
type Blender struct {
	c, h, w int
	acc     []float32
	wsum    []float32
}

// NewBlender returns an empty Blender for a C×H×W output.
func NewBlender(c, h, w int) *Blender {
	return &Blender{c: c, h: h, w: w, acc: make([]float32, c*h*w), wsum: make([]float32, h*w)}
}

// Edges says which sides of a tile meet a neighbouring tile.
type Edges struct {
	Top, Bottom, Left, Right bool
}

// Add blends tile, C×th×tw channel-major, whose top-left output pixel is
// (y0, x0), with ramps ov outputs wide on the sides in e. The tile must
// lie inside the output.
func (b *Blender) Add(tile []float32, th, tw, y0, x0, ov int, e Edges) {
	plane := b.h * b.w
	for y := 0; y < th; y++ {
		wy := Ramp(y, th, ov, e.Top, e.Bottom)
		for x := 0; x < tw; x++ {
			wgt := wy * Ramp(x, tw, ov, e.Left, e.Right)
			k := (y0+y)*b.w + x0 + x
			b.wsum[k] += wgt
			for c := 0; c < b.c; c++ {
				b.acc[c*plane+k] += wgt * tile[(c*th+y)*tw+x]
			}
		}
	}
}

// Result divides the accumulated values by their weights and returns the
// C×H×W output. The Blender must not be used afterwards.
func (b *Blender) Result() []float32 {
	plane := b.h * b.w
	for k, wv := range b.wsum {
		for c := 0; c < b.c; c++ {
			b.acc[c*plane+k] /= wv
		}
	}
	out := b.acc
	b.acc, b.wsum = nil, nil
	return out
}
