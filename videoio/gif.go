package videoio

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"math"
	"slices"
)

// GIFDelay returns the frame delay a GIF stores for fps, in hundredths of
// a second (the format's unit): 100/fps rounded to the nearest integer and
// at least 2, because browsers play delays of 0 or 1 as 10. So 8 fps is
// 13 (12.5 rounded half away from zero, 7.7 fps) and 30 fps is 3 (33 fps).
func GIFDelay(fps float64) int {
	return max(2, int(math.Round(100/fps)))
}

// EncodeGIF writes c as an animated GIF that loops forever, with one
// palette for the whole clip. A clip of at most 256 distinct colours (flat
// renders usually are) is stored exactly; a richer one is reduced to 256
// colours by median cut and each pixel mapped to its nearest palette
// colour, without dithering, so flat areas stay flat.
func EncodeGIF(w io.Writer, c Clip) error {
	if err := c.validate(true); err != nil {
		return err
	}
	pix := make([][]byte, c.F)
	for i := range c.F {
		pix[i] = c.rgb24(i, nil)
	}
	pal, index := clipPalette(pix)
	out := &gif.GIF{LoopCount: 0, Config: image.Config{ColorModel: pal, Width: c.W, Height: c.H}}
	delay := GIFDelay(c.FPS)
	for _, rgb := range pix {
		img := image.NewPaletted(image.Rect(0, 0, c.W, c.H), pal)
		for p := range c.W * c.H {
			img.Pix[p] = index[packRGB(rgb[3*p:])]
		}
		out.Image = append(out.Image, img)
		out.Delay = append(out.Delay, delay)
		out.Disposal = append(out.Disposal, gif.DisposalNone)
	}
	if err := gif.EncodeAll(w, out); err != nil {
		return fmt.Errorf("videoio: encode gif: %w", err)
	}
	return nil
}

func packRGB(p []byte) uint32 { return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2]) }

// clipPalette returns a palette of at most 256 colours for the frames'
// pixels and the palette index of every colour that occurs.
func clipPalette(frames [][]byte) (color.Palette, map[uint32]uint8) {
	counts := map[uint32]int{}
	for _, rgb := range frames {
		for p := 0; p < len(rgb); p += 3 {
			counts[packRGB(rgb[p:])]++
		}
	}
	colors := make([]weightedColor, 0, len(counts))
	for k, n := range counts {
		colors = append(colors, weightedColor{rgb: [3]uint8{uint8(k >> 16), uint8(k >> 8), uint8(k)}, n: n})
	}
	// Sorted so that equal clips give identical files whatever the map order.
	slices.SortFunc(colors, func(a, b weightedColor) int { return int(a.key()) - int(b.key()) })
	var centers [][3]uint8
	if len(colors) <= 256 {
		for _, c := range colors {
			centers = append(centers, c.rgb)
		}
	} else {
		centers = medianCut(colors, 256)
	}
	pal := make(color.Palette, len(centers))
	for i, c := range centers {
		pal[i] = color.RGBA{c[0], c[1], c[2], 255}
	}
	index := make(map[uint32]uint8, len(colors))
	for _, c := range colors {
		index[c.key()] = uint8(nearest(centers, c.rgb))
	}
	return pal, index
}

type weightedColor struct {
	rgb [3]uint8
	n   int
}

func (c weightedColor) key() uint32 { return packRGB(c.rgb[:]) }

// medianCut splits the colour set into k boxes, each time cutting the box
// with the largest (pixel count × widest channel range) at the weighted
// median of that channel, and returns each box's pixel-weighted mean.
func medianCut(colors []weightedColor, k int) [][3]uint8 {
	boxes := [][]weightedColor{colors}
	for len(boxes) < k {
		best, bestScore, bestCh := -1, 0, 0
		for i, b := range boxes {
			if len(b) < 2 {
				continue
			}
			ch, width := widestChannel(b)
			total := 0
			for _, c := range b {
				total += c.n
			}
			if score := width * total; width > 0 && score > bestScore {
				best, bestScore, bestCh = i, score, ch
			}
		}
		if best < 0 {
			break
		}
		b := boxes[best]
		slices.SortStableFunc(b, func(x, y weightedColor) int { return int(x.rgb[bestCh]) - int(y.rgb[bestCh]) })
		total := 0
		for _, c := range b {
			total += c.n
		}
		cut, acc := 1, 0
		for i, c := range b[:len(b)-1] {
			acc += c.n
			cut = i + 1
			if 2*acc >= total {
				break
			}
		}
		boxes[best] = b[:cut]
		boxes = append(boxes, b[cut:])
	}
	centers := make([][3]uint8, len(boxes))
	for i, b := range boxes {
		var sum [3]int
		total := 0
		for _, c := range b {
			for ch := range 3 {
				sum[ch] += int(c.rgb[ch]) * c.n
			}
			total += c.n
		}
		for ch := range 3 {
			centers[i][ch] = uint8((sum[ch] + total/2) / total)
		}
	}
	return centers
}

func widestChannel(b []weightedColor) (ch, width int) {
	for c := range 3 {
		lo, hi := 255, 0
		for _, x := range b {
			lo, hi = min(lo, int(x.rgb[c])), max(hi, int(x.rgb[c]))
		}
		if hi-lo > width {
			ch, width = c, hi-lo
		}
	}
	return ch, width
}

func nearest(centers [][3]uint8, c [3]uint8) int {
	best, bestD := 0, math.MaxInt
	for i, p := range centers {
		d := 0
		for ch := range 3 {
			e := int(p[ch]) - int(c[ch])
			d += e * e
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}
