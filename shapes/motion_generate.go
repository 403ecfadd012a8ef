package shapes

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// MinFrames and MaxFrames bound the length of the clips GenerateMotion
// draws (the video models use 8 to 16).
const (
	MinFrames = 2
	MaxFrames = 64
)

// MotionSample is one generated clip with its caption.
type MotionSample struct {
	Seed    uint64
	Scene   MotionScene // everything drawn
	Prompt  MotionScene // what Caption says (a subset of Scene); ParseMotionPrompt(Caption) returns it
	Caption string
	Frames  []*image.NRGBA
	// Tracks holds, per frame, where each shape of Scene was drawn
	// (pixels), in the order of Scene.Shapes.
	Tracks [][]Placement
}

// MotionDataset is an endless, deterministic stream of clips of one split
// at one frame size and length. The zero Split is Train; the splits use
// the seed ranges of [Split.SeedRange], like [Dataset].
type MotionDataset struct {
	Split  Split
	Size   int // frame side in pixels, in [MinSize, MaxSize]
	Frames int // frames per clip, in [MinFrames, MaxFrames]
}

// Sample returns clip i (i ≥ 0) of the dataset: the same (Split, Size,
// Frames, i) always gives the same clip, on any machine.
func (d MotionDataset) Sample(i int) (MotionSample, error) {
	if d.Split != Train && d.Split != HeldOut {
		return MotionSample{}, fmt.Errorf("shapes: unknown split %d", d.Split)
	}
	lo, hi := d.Split.SeedRange()
	if i < 0 || uint64(i) >= hi-lo {
		return MotionSample{}, fmt.Errorf("shapes: sample index %d outside the %s split", i, d.Split)
	}
	return GenerateMotion(lo+uint64(i), d.Size, d.Frames)
}

// GenerateMotion returns the clip of one seed: frames frames of size x
// size pixels. The scene, the paths and the caption depend on the seed
// alone: frame k shows time k/(frames-1) of the same motion at any size
// and length.
func GenerateMotion(seed uint64, size, frames int) (MotionSample, error) {
	if err := checkSize(size); err != nil {
		return MotionSample{}, err
	}
	if frames < MinFrames || frames > MaxFrames {
		return MotionSample{}, fmt.Errorf("shapes: %d frames, want %d..%d", frames, MinFrames, MaxFrames)
	}
	l := motionLayout(seed)
	if err := l.scene.Validate(); err != nil {
		return MotionSample{}, fmt.Errorf("shapes: seed %d: %w", seed, err)
	}
	out := MotionSample{Seed: seed, Scene: l.scene, Prompt: l.prompt, Caption: l.caption}
	bg := l.scene.Background.RGB()
	sz := float64(size)
	for k := range frames {
		t := float64(k) / float64(frames-1)
		img := image.NewNRGBA(image.Rect(0, 0, size, size))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, 255
		}
		place := make([]Placement, len(l.paths))
		for i, p := range l.paths {
			u := p.at(t)
			place[i] = Placement{X: u.X * sz, Y: u.Y * sz, R: u.R * sz}
			drawShape(img, l.scene.Shapes[i].Kind, p.colorAt(t), place[i])
		}
		out.Frames = append(out.Frames, img)
		out.Tracks = append(out.Tracks, place)
	}
	return out, nil
}

// MotionCaption returns the caption of one seed without drawing it.
func MotionCaption(seed uint64) string { return motionLayout(seed).caption }

// HeldOutMotionPrompts returns n distinct moving-shapes captions from the
// held-out split, in seed order.
func HeldOutMotionPrompts(n int) []string {
	lo, _ := HeldOut.SeedRange()
	out := make([]string, 0, max(n, 0))
	seen := make(map[string]bool, max(n, 0))
	for seed := lo; len(out) < n; seed++ {
		if c := MotionCaption(seed); !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// path is how one shape moves over time t in [0, 1], in fractions of the
// image side: from `from` to `to` in a straight line, or, with a turn at
// time peak (0 < peak < 1), to `to` and back. Its color blends from c0 to
// c1 around the middle of the clip.
type path struct {
	from, to Placement
	peak     float64
	c0, c1   color.NRGBA
}

func (p path) at(t float64) Placement {
	u := t
	if p.peak > 0 {
		if t <= p.peak {
			u = t / p.peak
		} else {
			u = (1 - t) / (1 - p.peak)
		}
	}
	lerp := func(a, b float64) float64 { return a + (b-a)*u }
	return Placement{X: lerp(p.from.X, p.to.X), Y: lerp(p.from.Y, p.to.Y), R: lerp(p.from.R, p.to.R)}
}

// Color changes take the middle colorBlend of the clip, eased.
const colorBlend = 0.3

func (p path) colorAt(t float64) color.NRGBA {
	u := min(max((t-(0.5-colorBlend/2))/colorBlend, 0), 1)
	u = u * u * (3 - 2*u)
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*u)) }
	return color.NRGBA{mix(p.c0.R, p.c1.R), mix(p.c0.G, p.c1.G), mix(p.c0.B, p.c1.B), 255}
}

// Radii of growing and shrinking shapes (fractions of the side): alone, and
// in a lane beside another shape.
const (
	growSmall, growLarge         = 0.12, 0.25
	laneGrowSmall, laneGrowLarge = 0.09, 0.19
	laneJitter                   = 0.02
	travelJitter                 = 0.05
)

type motionLayoutResult struct {
	scene, prompt MotionScene
	caption       string
	paths         []path
}

// The motions a lone shape draws from (moves twice as often as the rest),
// and those of two shapes in rows (each in its own horizontal lane) or in
// columns.
var (
	loneMotions = []Motion{Still, MoveRight, MoveLeft, MoveDown, MoveUp, MoveRight, MoveLeft, MoveDown, MoveUp,
		BounceSideways, BounceUpDown, Grow, Shrink, ChangeColor}
	rowMotions    = []Motion{Still, MoveRight, MoveLeft, MoveRight, MoveLeft, BounceSideways, Grow, Shrink, ChangeColor}
	columnMotions = []Motion{Still, MoveDown, MoveUp, MoveDown, MoveUp, BounceUpDown, Grow, Shrink, ChangeColor}
)

// motionLayout draws the scene, paths and caption of one seed from one PCG
// stream seeded by the seed alone.
func motionLayout(seed uint64) motionLayoutResult {
	rng := rand.New(rand.NewPCG(seed, 0x4d4f54494f4e0001)) // "MOTION" stream
	pick := rng.IntN
	n := 1
	if pick(5) < 2 {
		n = 2
	}
	perm := rng.Perm(len(Colors))
	scene := MotionScene{Background: Colors[perm[n]], Shapes: make([]MovingShape, n)}
	endColors := perm[n+1:] // distinct from every first color and the background
	rows := pick(2) == 0
	var lanes []float64 // the lane coordinate of each shape, across its motion
	if n == 2 {
		lanes = []float64{cellLow, cellHigh}
		if pick(2) == 0 {
			lanes[0], lanes[1] = lanes[1], lanes[0]
		}
	}
	paths := make([]path, n)
	for i := range scene.Shapes {
		sh := &scene.Shapes[i]
		sh.Kind = Kinds[pick(len(Kinds))]
		sh.Color = Colors[perm[i]]
		switch {
		case n == 1:
			sh.Motion = loneMotions[pick(len(loneMotions))]
		case rows:
			sh.Motion = rowMotions[pick(len(rowMotions))]
		default:
			sh.Motion = columnMotions[pick(len(columnMotions))]
		}
		if sh.Motion == ChangeColor {
			sh.To = Colors[endColors[i]]
		}
		paths[i] = shapePath(rng, sh, lanes, i, rows)
	}

	// Say a random subset of what was drawn; motions are always said.
	prompt := MotionScene{Background: scene.Background, Shapes: append([]MovingShape(nil), scene.Shapes...)}
	if pick(2) == 0 {
		prompt.Background = NoColor
	}
	for i := range prompt.Shapes {
		sh := &prompt.Shapes[i]
		sizeOdds := 2 // said one time in sizeOdds
		if sh.Motion == Grow || sh.Motion == Shrink {
			sizeOdds = 3 // "a small star growing" says less than a size
		}
		if pick(sizeOdds) != 0 {
			sh.Size = SizeAny
		}
		if pick(2) == 0 {
			sh.Position = PosAny
		}
	}
	return motionLayoutResult{scene: scene, prompt: prompt, caption: motionCaption(rng, prompt), paths: paths}
}

// shapePath places shape i and sets its Size and Position: alone (lanes
// nil) anywhere in the picture; else in its lane, a row (rows) or a
// column, moving only along it.
func shapePath(rng *rand.Rand, sh *MovingShape, lanes []float64, i int, rows bool) path {
	p := path{c0: sh.Color.RGB(), c1: sh.Color.RGB()}
	if sh.Motion == ChangeColor {
		p.c1 = sh.To.RGB()
	}
	jit := func(scale float64) float64 { return (rng.Float64()*2 - 1) * scale }
	r0, r1 := 0.0, 0.0
	switch {
	case sh.Motion == Grow && lanes == nil:
		r0, r1, sh.Size = growSmall, growLarge, Small
	case sh.Motion == Shrink && lanes == nil:
		r0, r1, sh.Size = growLarge, growSmall, Large
	case sh.Motion == Grow:
		r0, r1, sh.Size = laneGrowSmall, laneGrowLarge, Small
	case sh.Motion == Shrink:
		r0, r1, sh.Size = laneGrowLarge, laneGrowSmall, Large
	default:
		sh.Size = Small
		if lanes == nil && rng.IntN(2) == 0 {
			sh.Size = Large
		}
		r0 = radiusOf(sh.Size)
		r1 = r0
	}
	rMax := max(r0, r1)
	// The centre of the shape when it stays in place, or the fixed
	// coordinate of its path when it moves.
	var c Placement
	if lanes == nil {
		cell := Positions[rng.IntN(len(Positions))]
		col, row := cell.cell()
		c = Placement{X: anchor(col) + jit(jitter), Y: anchor(row) + jit(jitter), R: rMax}
	} else {
		along := anchor(rng.IntN(3)) + jit(jitter)
		c = Placement{X: along, Y: lanes[i] + jit(laneJitter), R: rMax}
		if !rows {
			c.X, c.Y = lanes[i]+jit(laneJitter), along
		}
	}
	c.X, c.Y = offBorder(c.X), offBorder(c.Y)
	c = clampInside(sh.Kind, c)
	if !sh.Motion.Moves() {
		sh.Position = cellOf(c.X, c.Y)
		p.from, p.to = Placement{X: c.X, Y: c.Y, R: r0}, Placement{X: c.X, Y: c.Y, R: r1}
		return p
	}
	// A moving shape travels between the two extremes clampInside allows
	// along its axis, each pulled in by up to travelJitter.
	sh.Position = PosAny
	horizontal := sh.Motion == MoveRight || sh.Motion == MoveLeft || sh.Motion == BounceSideways
	lo, hi := c, c
	if horizontal {
		lo.X, hi.X = -1, 2
	} else {
		lo.Y, hi.Y = -1, 2
	}
	lo, hi = clampInside(sh.Kind, lo), clampInside(sh.Kind, hi)
	if horizontal {
		lo.X += rng.Float64() * travelJitter
		hi.X -= rng.Float64() * travelJitter
	} else {
		lo.Y += rng.Float64() * travelJitter
		hi.Y -= rng.Float64() * travelJitter
	}
	switch sh.Motion {
	case MoveRight, MoveDown:
		p.from, p.to = lo, hi
	case MoveLeft, MoveUp:
		p.from, p.to = hi, lo
	default: // a bounce: to the far side and back, turning near the middle
		p.from, p.to = lo, hi
		if rng.IntN(2) == 0 {
			p.from, p.to = hi, lo
		}
		p.peak = 0.4 + 0.2*rng.Float64()
	}
	return p
}
