package shapes

import (
	"math"
	"slices"
)

// Segmentation thresholds.
const (
	// foregroundDist is the CIELAB distance from the background above which
	// a pixel is foreground. The palette's colors are at least 30 apart, so
	// a pixel more than about half covered by any shape passes it.
	foregroundDist = 15
	// maxForegroundDist caps the threshold noise can raise it to.
	maxForegroundDist = 25
	// coreShare: a region's core is its pixels at least this share of its
	// 90th-percentile distance from the background; edge pixels mixed with
	// the background stay out of the color vote.
	coreShare = 0.7
	// splitShare: a region whose core votes at least this share for a
	// second palette color is two touching shapes.
	splitShare = 0.3
	// minSolidShare: a region whose core is mostly one color is still two
	// touching shapes when it holds at least this share of the image in
	// solid pixels of a second color (pixels nearest to it whose four
	// neighbours are too): a small shape drawn next to a large one, or
	// one whose color lies nearer the background than the other's, falls
	// short of splitShare of the core but not of this, while the blended
	// rim where a shape meets the background or another shape is too thin
	// to have solid pixels. A small shape at 32x32 keeps about 2% of the
	// image after the erosion.
	minSolidShare = 0.01
	// minRegionShare is the smallest region kept, as a share of the image
	// (noise specks are smaller; a small shape at 32x32 is about 4%).
	minRegionShare = 0.004
)

// region is one foreground region and what it measures as.
type region struct {
	pixels []int // indices y*w+x
	color  Color
	fg     [3]float64 // mean sRGB of its core pixels of its color

	area         float64 // soft area, share of the image
	x, y, radius float64 // centroid and fitted radius, shares of the side
	kind         Kind
	fit          float64
	fits         [len(kindNames)]float64 // fit of every class, by Kind
	size         Size
	pos          Position
}

// regions finds, names and measures the foreground regions of p, largest
// first.
func (p *picture) regions() []region {
	n := p.w * p.h
	minPixels := max(4, int(minRegionShare*float64(n)))
	var out []region
	for _, comp := range p.components() {
		if len(comp) < minPixels {
			continue
		}
		votes := p.colorVotes(comp)
		first, second := topTwo(votes)
		total := 0
		for _, v := range votes {
			total += v
		}
		split := second != NoColor && float64(votes[second]) >= splitShare*float64(total)
		near := p.nearestColors(comp)
		if !split {
			if c := p.solidSecondColor(comp, near, first, minSolidShare*float64(n)); c != NoColor {
				second, split = c, true
			}
		}
		if split {
			a, b := p.splitByColor(comp, near, first, second)
			for _, part := range [][]int{a, b} {
				if len(part) >= minPixels {
					out = append(out, region{pixels: part})
				}
			}
			continue
		}
		out = append(out, region{pixels: comp})
	}
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
	}
	for k, r := range out {
		for _, i := range r.pixels {
			owner[i] = k
		}
	}
	alpha := make([]float64, n)
	for k := range out {
		p.measure(&out[k], k, owner, alpha)
	}
	// A region that names the background's own color is noise or shading
	// of the background, not a shape.
	out = slices.DeleteFunc(out, func(r region) bool { return r.color == p.bgColor })
	slices.SortStableFunc(out, func(a, b region) int { return -cmpFloat(a.area, b.area) })
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// foreground marks the pixels far from the background that have at least
// two such neighbours: lone specks and one-pixel bridges of noise drop out,
// while a shape keeps all but its faintest tips (which still count in its
// soft coverage).
func (p *picture) foreground() []bool {
	far := func(x, y int) bool {
		return x >= 0 && y >= 0 && x < p.w && y < p.h && p.dist[y*p.w+x] > p.fgDist
	}
	fg := make([]bool, p.w*p.h)
	for y := range p.h {
		for x := range p.w {
			if !far(x, y) {
				continue
			}
			nb := 0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if (dx != 0 || dy != 0) && far(x+dx, y+dy) {
						nb++
					}
				}
			}
			fg[y*p.w+x] = nb >= 2
		}
	}
	return fg
}

// components returns the 8-connected runs of foreground pixels.
func (p *picture) components() [][]int {
	n := p.w * p.h
	fg := p.foreground()
	seen := make([]bool, n)
	var comps [][]int
	var stack []int
	for start := range n {
		if seen[start] || !fg[start] {
			continue
		}
		seen[start] = true
		stack = append(stack[:0], start)
		var comp []int
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, i)
			p.neighbours8(i, func(j int) {
				if !seen[j] && fg[j] {
					seen[j] = true
					stack = append(stack, j)
				}
			})
		}
		comps = append(comps, comp)
	}
	return comps
}

// neighbours8 calls f with the index of each of pixel i's 8 neighbours
// inside the picture.
func (p *picture) neighbours8(i int, f func(j int)) {
	x, y := i%p.w, i/p.w
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			nx, ny := x+dx, y+dy
			if (dx != 0 || dy != 0) && nx >= 0 && ny >= 0 && nx < p.w && ny < p.h {
				f(ny*p.w + nx)
			}
		}
	}
}

// core returns the pixels of comp far enough from the background to show
// the region's own color.
func (p *picture) core(comp []int) []int {
	d := make([]float64, len(comp))
	for k, i := range comp {
		d[k] = p.dist[i]
	}
	slices.Sort(d)
	cut := coreShare * d[len(d)*9/10]
	var core []int
	for _, i := range comp {
		if p.dist[i] >= cut {
			core = append(core, i)
		}
	}
	return core
}

// colorVotes counts, over the core of comp, the nearest palette color of
// each pixel.
func (p *picture) colorVotes(comp []int) []int {
	votes := make([]int, len(colorNames))
	for _, i := range p.core(comp) {
		c, _ := nearestColor(p.labs[i])
		votes[c]++
	}
	return votes
}

func topTwo(votes []int) (first, second Color) {
	for c := range votes {
		if votes[c] == 0 {
			continue
		}
		switch {
		case first == NoColor || votes[c] > votes[first]:
			first, second = Color(c), first
		case second == NoColor || votes[c] > votes[second]:
			second = Color(c)
		}
	}
	return first, second
}

// nearestColors returns the nearest palette color of each pixel of comp.
func (p *picture) nearestColors(comp []int) map[int]Color {
	near := make(map[int]Color, len(comp))
	for _, i := range comp {
		near[i], _ = nearestColor(p.labs[i])
	}
	return near
}

// solid reports whether pixel i of a region with nearest colors near is
// solid: it and its four neighbours, all in the region, are nearest to
// the same palette color.
func (p *picture) solid(i int, near map[int]Color) bool {
	x, y := i%p.w, i/p.w
	if x == 0 || y == 0 || x == p.w-1 || y == p.h-1 {
		return false
	}
	c := near[i]
	for _, j := range [4]int{i - 1, i + 1, i - p.w, i + p.w} {
		if nc, ok := near[j]; !ok || nc != c {
			return false
		}
	}
	return true
}

// solidSecondColor returns the color, other than first and the
// background's, with the most solid pixels in comp (whose pixels' nearest
// colors are near), if they are at least minPixels; else NoColor.
func (p *picture) solidSecondColor(comp []int, near map[int]Color, first Color, minPixels float64) Color {
	counts := make([]int, len(colorNames))
	for _, i := range comp {
		if c := near[i]; c != first && c != p.bgColor && p.solid(i, near) {
			counts[c]++
		}
	}
	best := NoColor
	for c, k := range counts {
		if k > 0 && float64(k) >= minPixels && (best == NoColor || k > counts[best]) {
			best = Color(c)
		}
	}
	return best
}

// splitByColor divides comp between two palette colors: the solid pixels
// of each seed its part, and every other pixel joins the part whose seeds
// are nearest to it within comp (breadth first), so the rim where a shape
// fades into the background stays with that shape whatever palette color
// its mix resembles, and two touching shapes part where they meet. Without
// seeds of both colors each pixel goes to the nearer color.
func (p *picture) splitByColor(comp []int, near map[int]Color, a, b Color) (pa, pb []int) {
	label := make(map[int]Color, len(comp))
	var queue []int
	for _, i := range comp {
		if c := near[i]; (c == a || c == b) && p.solid(i, near) {
			label[i] = c
			queue = append(queue, i)
		}
	}
	seeded := map[Color]bool{}
	for _, c := range label {
		seeded[c] = true
	}
	if !seeded[a] || !seeded[b] {
		for _, i := range comp {
			if p.labs[i].dist2(paletteLab[a]) <= p.labs[i].dist2(paletteLab[b]) {
				pa = append(pa, i)
			} else {
				pb = append(pb, i)
			}
		}
		return pa, pb
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		p.neighbours8(i, func(j int) {
			_, in := near[j]
			if _, done := label[j]; in && !done {
				label[j] = label[i]
				queue = append(queue, j)
			}
		})
	}
	for _, i := range comp {
		if label[i] == a {
			pa = append(pa, i)
		} else {
			pb = append(pb, i)
		}
	}
	return pa, pb
}

// measure names the color of region k and measures its soft coverage,
// centroid, class, size and cell. alpha is a scratch buffer of one value
// per pixel; measure leaves it zeroed.
func (p *picture) measure(r *region, k int, owner []int, alpha []float64) {
	votes := p.colorVotes(r.pixels)
	r.color, _ = topTwo(votes)
	var n float64
	for _, i := range p.core(r.pixels) {
		if c, _ := nearestColor(p.labs[i]); c == r.color {
			for c := range 3 {
				r.fg[c] += p.rgb[3*i+c]
			}
			n++
		}
	}
	for c := range 3 {
		r.fg[c] /= n
	}

	// Soft coverage: how far along the line from the background to the
	// region's color each pixel lies. Pixels of other regions count
	// nothing; faint pixels outside every region (noise) neither.
	var d [3]float64
	var d2 float64
	for c := range 3 {
		d[c] = r.fg[c] - p.bgRGB[c]
		d2 += d[c] * d[c]
	}
	x0, y0, x1, y1 := p.w, p.h, 0, 0
	for _, i := range r.pixels {
		x, y := i%p.w, i/p.w
		x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
	}
	x0, y0, x1, y1 = max(x0-2, 0), max(y0-2, 0), min(x1+2, p.w), min(y1+2, p.h)
	var area, sx, sy float64
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := y*p.w + x
			if owner[i] != k && owner[i] != -1 {
				continue
			}
			var dot float64
			for c := range 3 {
				dot += (p.rgb[3*i+c] - p.bgRGB[c]) * d[c]
			}
			a := min(max(dot/d2, 0), 1)
			if owner[i] == -1 && a < 0.1 {
				continue
			}
			alpha[i] = a
			area += a
			sx += a * (float64(x) + 0.5)
			sy += a * (float64(y) + 0.5)
		}
	}
	cx, cy := sx/area, sy/area
	side := math.Sqrt(float64(p.w * p.h))
	r.area = area / float64(p.w*p.h)
	r.x, r.y = cx/float64(p.w), cy/float64(p.h)
	r.pos = cellOf(r.x, r.y)

	// Class: the template that, placed at the centroid with the same area,
	// overlaps the coverage best (soft intersection over union).
	g := geometry()
	r.fit = -1
	for _, kind := range Kinds {
		rad := math.Sqrt(area / g[kind].area)
		var inter, tsum float64
		rasterize(kind, cx, cy, rad, p.w, p.h, func(x, y int, t float64) {
			inter += min(t, alpha[y*p.w+x])
			tsum += t
		})
		iou := inter / (area + tsum - inter)
		r.fits[kind] = iou
		if iou > r.fit {
			r.fit, r.kind, r.radius = iou, kind, rad/side
		}
	}
	r.size = Small
	if r.radius > (smallRadius+largeRadius)/2 {
		r.size = Large
	}
	for y := y0; y < y1; y++ {
		clear(alpha[y*p.w+x0 : y*p.w+x1])
	}
}
