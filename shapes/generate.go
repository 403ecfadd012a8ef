package shapes

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Split names one of the dataset's disjoint seed ranges.
type Split int8

// The splits. Training samples use seeds [0, 2⁴⁰); held-out samples use
// seeds [2⁴⁰, 2⁴¹), so no held-out sample is a training sample.
const (
	Train Split = iota
	HeldOut
)

const splitSpan = 1 << 40

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case HeldOut:
		return "held-out"
	}
	return fmt.Sprintf("Split(%d)", int8(s))
}

// SeedRange returns the seeds [lo, hi) of split s.
func (s Split) SeedRange() (lo, hi uint64) {
	lo = uint64(s) * splitSpan
	return lo, lo + splitSpan
}

// Sample is one generated picture with its caption.
type Sample struct {
	Seed       uint64
	Scene      Scene       // everything drawn: background, every size and position
	Prompt     Scene       // what Caption says (a subset of Scene); ParsePrompt(Caption) returns it
	Caption    string      // lowercase words, no punctuation
	Placements []Placement // one per shape of Scene
	Image      *image.NRGBA
}

// Dataset is an endless, deterministic stream of samples of one split at
// one image size. The zero Split is Train.
type Dataset struct {
	Split Split
	Size  int // image side in pixels, in [MinSize, MaxSize]
}

// Sample returns sample i (i ≥ 0) of the dataset: the same (Split, Size, i)
// always gives the same sample, on any machine.
func (d Dataset) Sample(i int) (Sample, error) {
	lo, hi := d.Split.SeedRange()
	if d.Split != Train && d.Split != HeldOut {
		return Sample{}, fmt.Errorf("shapes: unknown split %d", d.Split)
	}
	if i < 0 || uint64(i) >= hi-lo {
		return Sample{}, fmt.Errorf("shapes: sample index %d outside the %s split", i, d.Split)
	}
	return Generate(lo+uint64(i), d.Size)
}

// Generate returns the sample of one seed at size x size pixels. The scene,
// its layout and its caption depend on the seed alone, not on the size
// (positions and radii scale with it), so a seed gives the same picture at
// 32x32 and 64x64.
func Generate(seed uint64, size int) (Sample, error) {
	if err := checkSize(size); err != nil {
		return Sample{}, err
	}
	s := sampleLayout(seed)
	place := make([]Placement, len(s.unit))
	for i, p := range s.unit {
		place[i] = Placement{X: p.X * float64(size), Y: p.Y * float64(size), R: p.R * float64(size)}
	}
	img, err := Render(s.scene, place, size)
	if err != nil {
		return Sample{}, fmt.Errorf("shapes: seed %d: %w", seed, err)
	}
	return Sample{Seed: seed, Scene: s.scene, Prompt: s.prompt, Caption: s.caption, Placements: place, Image: img}, nil
}

// Caption returns the caption of one seed without drawing it: the same
// text as Generate(seed, size).Caption for every size.
func Caption(seed uint64) string { return sampleLayout(seed).caption }

// HeldOutPrompts returns n distinct captions from the held-out split, in
// seed order, for measuring prompt adherence on prompts the model was not
// trained on.
func HeldOutPrompts(n int) []string {
	lo, _ := HeldOut.SeedRange()
	out := make([]string, 0, max(n, 0))
	seen := make(map[string]bool, max(n, 0))
	for seed := lo; len(out) < n; seed++ {
		c := Caption(seed)
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// Radii of the size classes and the centres of the grid cells, as
// fractions of the image side.
const (
	smallRadius = 0.15
	largeRadius = 0.24
	cellLow     = 0.27
	cellHigh    = 0.73
	jitter      = 0.03
	edgeMargin  = 0.03 // gap between a shape's box and the image edge
	shapeGap    = 0.06 // gap between the boxes of two shapes
)

// cellBounds are where the checker puts the borders between grid cells:
// halfway between the cell centres.
const (
	cellBorderLow  = (cellLow + 0.5) / 2
	cellBorderHigh = (cellHigh + 0.5) / 2
)

func radiusOf(s Size) float64 {
	if s == Large {
		return largeRadius
	}
	return smallRadius
}

// cellOf returns the grid position of a centroid given as fractions of the
// image side.
func cellOf(x, y float64) Position {
	bin := func(c float64) int {
		switch {
		case c < cellBorderLow:
			return 0
		case c > cellBorderHigh:
			return 2
		}
		return 1
	}
	return positionOfCell(bin(x), bin(y))
}

// layout is a sample before rendering, with placements as fractions of the
// image side.
type layout struct {
	scene, prompt Scene
	caption       string
	unit          []Placement
}

// box is a shape's bounding box as fractions of the image side.
type box struct{ x0, y0, x1, y1 float64 }

func boxOf(k Kind, p Placement) box {
	g := &geometry()[k]
	return box{p.X + g.minU*p.R, p.Y + g.minV*p.R, p.X + g.maxU*p.R, p.Y + g.maxV*p.R}
}

func (b box) overlaps(c box, gap float64) bool {
	return b.x0 < c.x1+gap && c.x0 < b.x1+gap && b.y0 < c.y1+gap && c.y0 < b.y1+gap
}

// clampInside moves p so that its box keeps edgeMargin from every edge.
func clampInside(k Kind, p Placement) Placement {
	g := &geometry()[k]
	p.X = min(max(p.X, edgeMargin-g.minU*p.R), 1-edgeMargin-g.maxU*p.R)
	p.Y = min(max(p.Y, edgeMargin-g.minV*p.R), 1-edgeMargin-g.maxV*p.R)
	return p
}

// borderClearance is how far offBorder keeps a coordinate from a cell
// border.
const borderClearance = 0.025

// offBorder moves a coordinate (a fraction of the side) that lies within
// borderClearance of a cell border to that distance.
func offBorder(c float64) float64 {
	for _, b := range []float64{cellBorderLow, cellBorderHigh} {
		if math.Abs(c-b) < borderClearance {
			if c < b {
				return b - borderClearance
			}
			return b + borderClearance
		}
	}
	return c
}

func anchor(c int) float64 { return [3]float64{cellLow, 0.5, cellHigh}[c] }

// sampleLayout draws the scene, layout and caption of one seed. Every
// random choice comes from one PCG stream seeded by the seed alone.
func sampleLayout(seed uint64) layout {
	rng := rand.New(rand.NewPCG(seed, 0x5348415045530001)) // "SHAPES" stream
	pick := func(n int) int { return rng.IntN(n) }

	n := 1 + pick(2) // one or two shapes, evenly
	perm := rng.Perm(len(Colors))
	scene := Scene{Shapes: make([]Shape, n)}
	for i := range scene.Shapes {
		scene.Shapes[i] = Shape{Kind: Kinds[pick(len(Kinds))], Color: Colors[perm[i]], Size: Size(1 + pick(2))}
	}
	scene.Background = Colors[perm[n+pick(len(Colors)-n)]]

	var unit []Placement
	if n == 2 && pick(5) < 3 {
		scene.Relation = Relation(1 + pick(4))
		unit = placeRelated(rng, &scene)
	} else {
		unit = placeAbsolute(rng, &scene)
	}
	for i, p := range unit {
		// Keep centroids off the cell borders, so that the cell a shape is
		// in does not hang on the rounding of a 32x32 render.
		p.X, p.Y = offBorder(p.X), offBorder(p.Y)
		unit[i] = clampInside(scene.Shapes[i].Kind, p)
		scene.Shapes[i].Position = cellOf(unit[i].X, unit[i].Y)
	}

	// Say a random subset of what was drawn.
	prompt := scene.clone()
	if pick(2) == 0 {
		prompt.Background = NoColor
	}
	sayPositions := scene.Relation == RelNone && pick(5) < 3
	for i := range prompt.Shapes {
		if pick(2) == 0 {
			prompt.Shapes[i].Size = SizeAny
		}
		if scene.Relation != RelNone || !sayPositions {
			prompt.Shapes[i].Position = PosAny
		}
	}
	return layout{scene: scene, prompt: prompt, caption: phrase(rng, prompt), unit: unit}
}

// placeAbsolute puts each shape in a random grid cell, the cells distinct
// and the boxes apart; when two large shapes cannot be kept apart after a
// few tries, the second becomes small.
func placeAbsolute(rng *rand.Rand, s *Scene) []Placement {
	unit := make([]Placement, len(s.Shapes))
	for try := 0; ; try++ {
		if try == 20 {
			s.Shapes[len(s.Shapes)-1].Size = Small
		}
		cells := rng.Perm(9)
		for i, sh := range s.Shapes {
			col, row := Positions[cells[i]].cell()
			p := Placement{
				X: anchor(col) + (rng.Float64()*2-1)*jitter,
				Y: anchor(row) + (rng.Float64()*2-1)*jitter,
				R: radiusOf(sh.Size),
			}
			unit[i] = clampInside(sh.Kind, p)
		}
		if len(unit) == 1 || !boxOf(s.Shapes[0].Kind, unit[0]).overlaps(boxOf(s.Shapes[1].Kind, unit[1]), shapeGap) || try >= 40 {
			return unit
		}
	}
}

// placeRelated puts the first shape above, below, left of or right of the
// second: both on one line along the relation's axis, a random gap apart,
// sharing (up to jitter) a random coordinate across it.
func placeRelated(rng *rand.Rand, s *Scene) []Placement {
	g := geometry()
	a, b := s.Shapes[0], s.Shapes[1]
	vertical := s.Relation == Above || s.Relation == Below
	// Extents along the axis (before, after the centroid) and across it.
	extent := func(sh Shape) (lo, hi, crossLo, crossHi float64) {
		k, r := &g[sh.Kind], radiusOf(sh.Size)
		if vertical {
			return -k.minV * r, k.maxV * r, -k.minU * r, k.maxU * r
		}
		return -k.minU * r, k.maxU * r, -k.minV * r, k.maxV * r
	}
	first, second := a, b // first is the one nearer the top or left
	if s.Relation == Below || s.Relation == RightOf {
		first, second = b, a
	}
	for {
		fLo, fHi, fcLo, fcHi := extent(first)
		sLo, sHi, scLo, scHi := extent(second)
		slack := 1 - 2*edgeMargin - (fLo + fHi + shapeGap + sLo + sHi)
		if slack < 0 {
			// Two large shapes do not fit along the axis: shrink one.
			if second.Size == Large {
				second.Size = Small
			} else {
				first.Size = Small
			}
			continue
		}
		along1 := edgeMargin + rng.Float64()*slack + fLo
		along2 := along1 + fHi + shapeGap + rng.Float64()*slack*0.3 + sLo
		along2 = min(along2, 1-edgeMargin-sHi)
		crossMin := edgeMargin + max(fcLo, scLo)
		crossMax := 1 - edgeMargin - max(fcHi, scHi)
		cross := crossMin + rng.Float64()*(crossMax-crossMin)
		cross1 := cross + (rng.Float64()*2-1)*jitter/2
		cross2 := cross + (rng.Float64()*2-1)*jitter/2
		p1 := Placement{X: cross1, Y: along1, R: radiusOf(first.Size)}
		p2 := Placement{X: cross2, Y: along2, R: radiusOf(second.Size)}
		if !vertical {
			p1.X, p1.Y = along1, cross1
			p2.X, p2.Y = along2, cross2
		}
		p1, p2 = clampInside(first.Kind, p1), clampInside(second.Kind, p2)
		if s.Relation == Below || s.Relation == RightOf {
			s.Shapes[0].Size, s.Shapes[1].Size = second.Size, first.Size
			return []Placement{p2, p1}
		}
		s.Shapes[0].Size, s.Shapes[1].Size = first.Size, second.Size
		return []Placement{p1, p2}
	}
}
