package shapes

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
)

// Verdict is the outcome of checking one attribute.
type Verdict int8

// The verdicts. An attribute the prompt does not say is NotAsked and counts
// neither way.
const (
	NotAsked Verdict = iota
	Pass
	Fail
)

func (v Verdict) String() string {
	return [...]string{"not asked", "pass", "fail"}[min(max(int(v), 0), 2)]
}

func verdict(asked, ok bool) Verdict {
	switch {
	case !asked:
		return NotAsked
	case ok:
		return Pass
	}
	return Fail
}

// all is Fail if any verdict fails, Pass if at least one passes and none
// fails, and NotAsked otherwise.
func all(vs ...Verdict) Verdict {
	out := NotAsked
	for _, v := range vs {
		if v == Fail {
			return Fail
		}
		if v == Pass {
			out = Pass
		}
	}
	return out
}

// ShapeResult is what the checker found for one shape of the prompt.
type ShapeResult struct {
	Want  Shape // the shape as the prompt says it
	Found bool  // a foreground region was matched to it
	// Got is what the matched region measures as: its dominant color, the
	// best-fitting class, its size class and its grid cell.
	Got Shape
	// X and Y are the centroid and Radius the fitted radius of the region,
	// as fractions of the image side; Fit is the soft intersection over
	// union of the region with the best-fitting class (1 is a perfect fit).
	X, Y, Radius, Fit float64
	// Verdicts of the attributes of Want; all Fail when nothing was found.
	Color, Kind, Size, Position Verdict
}

// Score is the checker's verdict on one picture.
type Score struct {
	Want          Scene // the scene checked against
	GotBackground Color // the palette color nearest the picture's border
	Shapes        []ShapeResult
	Extra         int // foreground regions matched to no shape

	// Attribute verdicts over all shapes: Pass only if every asked one
	// passes. Position covers both grid cells and the relation; Relation
	// is the relation alone.
	Color, Shape, Size, Position, Relation, Background Verdict
}

// Passed reports whether every attribute the prompt asks for passed.
func (s Score) Passed() bool {
	return all(s.Color, s.Shape, s.Size, s.Position, s.Background) != Fail
}

// Check scores how well img follows prompt: it reads the prompt with
// [ParsePrompt] and measures img against the scene with [CheckScene].
func Check(img image.Image, prompt string) (Score, error) {
	s, err := ParsePrompt(prompt)
	if err != nil {
		return Score{}, err
	}
	return CheckScene(img, s)
}

// CheckScene scores how well img follows scene, attribute by attribute.
//
// The background is the median color of the image border; foreground
// regions are the 8-connected pixels far from it in CIELAB (a region whose
// core holds two palette colors, or a solid patch of a second one, is two
// touching shapes, split between them where they meet). Each region's
// color is the palette color most of its core pixels are nearest to; its
// soft coverage (each pixel's share of the way from the background to the
// region's color) gives its area and centroid; its class is the one whose
// template, placed at that centroid with that area, overlaps the coverage
// best; its size class comes from that template's radius and its grid cell
// from the centroid. Regions are matched to the scene's shapes to agree on
// as many colors, then classes, as possible.
func CheckScene(img image.Image, scene Scene) (Score, error) {
	if err := scene.Validate(); err != nil {
		return Score{}, err
	}
	if img == nil {
		return Score{}, fmt.Errorf("shapes: check: nil image")
	}
	b := img.Bounds()
	if err := checkSize(b.Dx()); err != nil {
		return Score{}, fmt.Errorf("shapes: check: width: %w", err)
	}
	if err := checkSize(b.Dy()); err != nil {
		return Score{}, fmt.Errorf("shapes: check: height: %w", err)
	}
	p := newPicture(img)
	regions := p.regions()

	sc := Score{Want: scene.clone(), GotBackground: p.bgColor, Shapes: make([]ShapeResult, len(scene.Shapes))}
	match := matchRegions(scene.Shapes, regions)
	used := 0
	for i, want := range scene.Shapes {
		r := &sc.Shapes[i]
		r.Want = want
		j := match[i]
		if j < 0 {
			r.Color, r.Kind = Fail, Fail
			r.Size = verdict(want.Size != SizeAny, false)
			r.Position = verdict(want.Position != PosAny, false)
			continue
		}
		used++
		g := regions[j]
		r.Found = true
		r.Got = Shape{Kind: g.kind, Color: g.color, Size: g.size, Position: g.pos}
		r.X, r.Y, r.Radius, r.Fit = g.x, g.y, g.radius, g.fit
		r.Color = verdict(true, g.color == want.Color)
		r.Kind = verdict(true, g.kind == want.Kind)
		r.Size = verdict(want.Size != SizeAny, g.size == want.Size)
		r.Position = verdict(want.Position != PosAny, g.pos == want.Position)
	}
	sc.Extra = len(regions) - used

	sc.Relation = NotAsked
	if scene.Relation != RelNone {
		a, c := sc.Shapes[0], sc.Shapes[1]
		sc.Relation = verdict(true, a.Found && c.Found && relationOf(a.X-c.X, a.Y-c.Y) == scene.Relation)
	}
	sc.Background = verdict(scene.Background != NoColor, p.bgColor == scene.Background)
	var colors, kinds, sizes, positions []Verdict
	for _, r := range sc.Shapes {
		colors, kinds = append(colors, r.Color), append(kinds, r.Kind)
		sizes, positions = append(sizes, r.Size), append(positions, r.Position)
	}
	sc.Color, sc.Shape, sc.Size = all(colors...), all(kinds...), all(sizes...)
	sc.Position = all(append(positions, sc.Relation)...)
	return sc, nil
}

// relationOf names the relation of a shape to another from the offset of
// their centroids (fractions of the image side): the larger component of
// the offset decides, and offsets under minRelationOffset say nothing.
func relationOf(dx, dy float64) Relation {
	const minRelationOffset = 0.05
	switch {
	case max(math.Abs(dx), math.Abs(dy)) < minRelationOffset:
		return RelNone
	case math.Abs(dy) >= math.Abs(dx) && dy < 0:
		return Above
	case math.Abs(dy) >= math.Abs(dx):
		return Below
	case dx < 0:
		return LeftOf
	}
	return RightOf
}

// matchRegions assigns to each wanted shape a distinct region (or -1),
// maximising first the agreeing colors, then the agreeing classes, then
// the matched area.
func matchRegions(want []Shape, regions []region) []int {
	best := make([]int, len(want))
	for i := range best {
		best[i] = -1
	}
	bestScore := -1.0
	cur := make([]int, len(want))
	var walk func(i int, score float64)
	walk = func(i int, score float64) {
		if i == len(want) {
			if score > bestScore {
				bestScore = score
				copy(best, cur)
			}
			return
		}
		cur[i] = -1
		walk(i+1, score)
		for j, g := range regions {
			if slices.Contains(cur[:i], j) {
				continue
			}
			s := g.area // a fraction of the image, below 1
			if g.color == want[i].Color {
				s += 4
			}
			if g.kind == want[i].Kind {
				s += 2
			}
			cur[i] = j
			walk(i+1, score+1+s)
		}
	}
	walk(0, 0)
	return best
}

// picture is an image as sRGB floats and CIELAB, with its background.
type picture struct {
	w, h    int
	rgb     []float64 // 3 per pixel, 0..255
	labs    []lab
	bgRGB   [3]float64
	bgColor Color
	dist    []float64 // CIELAB distance of each pixel from the background
	// fgDist is the distance above which a pixel is foreground:
	// foregroundDist, raised on noisy pictures above the spread of the
	// border's own distances.
	fgDist float64
}

func newPicture(img image.Image) *picture {
	b := img.Bounds()
	p := &picture{w: b.Dx(), h: b.Dy()}
	n := p.w * p.h
	p.rgb = make([]float64, 3*n)
	p.labs = make([]lab, n)
	nrgba, fast := img.(*image.NRGBA)
	for y := range p.h {
		for x := range p.w {
			var c color.NRGBA
			if fast {
				o := nrgba.PixOffset(b.Min.X+x, b.Min.Y+y)
				c = color.NRGBA{nrgba.Pix[o], nrgba.Pix[o+1], nrgba.Pix[o+2], nrgba.Pix[o+3]}
			} else {
				c = color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			}
			i := y*p.w + x
			p.rgb[3*i], p.rgb[3*i+1], p.rgb[3*i+2] = float64(c.R), float64(c.G), float64(c.B)
			p.labs[i] = labOf8(c.R, c.G, c.B)
		}
	}
	// The background is the per-channel median of the border, which a
	// shape touching the edge cannot move much.
	var border [3][]float64
	for y := range p.h {
		for x := range p.w {
			if x == 0 || y == 0 || x == p.w-1 || y == p.h-1 {
				i := y*p.w + x
				for c := range 3 {
					border[c] = append(border[c], p.rgb[3*i+c])
				}
			}
		}
	}
	for c := range 3 {
		slices.Sort(border[c])
		p.bgRGB[c] = border[c][len(border[c])/2]
	}
	bgLab := labOfFloat(p.bgRGB[0], p.bgRGB[1], p.bgRGB[2])
	p.bgColor, _ = nearestColor(bgLab)
	p.dist = make([]float64, n)
	var borderDist []float64
	for i, l := range p.labs {
		p.dist[i] = math.Sqrt(l.dist2(bgLab))
		if x, y := i%p.w, i/p.w; x == 0 || y == 0 || x == p.w-1 || y == p.h-1 {
			borderDist = append(borderDist, p.dist[i])
		}
	}
	slices.Sort(borderDist)
	noise := borderDist[len(borderDist)*9/10]
	p.fgDist = min(max(foregroundDist, 1.5*noise), maxForegroundDist)
	return p
}
