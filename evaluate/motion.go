package evaluate

import (
	"fmt"
	"math"

	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// Thresholds of the motion checker, as fractions of the frame side (or of
// the frames).
const (
	// MinTravel is the net displacement (least-squares fit over the clip)
	// above which a shape counts as moving; the dataset's moves travel
	// 0.3 to 0.5 of the side.
	MinTravel = 0.12
	// MinLeg is how far each leg of a bounce must go before and after its
	// turn.
	MinLeg = 0.10
	// MinGrowth is the fitted radius change above which a shape grows or
	// shrinks; the dataset's change by 0.10 to 0.13.
	MinGrowth = 0.04
	// StableShare is the share of the frames a shape is found in that
	// must agree on its color (and, separately, on its class) for it to
	// count as stable.
	StableShare = 0.8
	// MinFoundShare is the share of the frames a shape must be found in
	// to be checked at all; below it every verdict on it fails.
	MinFoundShare = 0.8
)

// ShapeTrack is one shape of a prompt followed through a clip, with what
// the checker read from its path.
type ShapeTrack struct {
	Want shapes.MovingShape
	// Per frame: whether a region was matched, its measurements (NaN
	// when not found), its named color and class (zero when not found).
	Found        []bool
	X, Y, Radius []float64
	Colors       []shapes.Color
	Kinds        []shapes.Kind
	FoundShare   float64
	// DX, DY are the net displacement and DR the radius change over the
	// clip (least-squares slope against time in [0, 1]); Turn says the
	// path reverses once along an axis (a bounce).
	DX, DY, DR float64
	Turn       bool
	// Color and Kind are the most common color and class over the found
	// frames, with the share of those frames they hold.
	Color                 shapes.Color
	Kind                  shapes.Kind
	ColorShare, KindShare float64
	// StartColor and EndColor are the most common colors in the first and
	// last third of the clip.
	StartColor, EndColor shapes.Color
	// Motion is the motion read from the path.
	Motion shapes.Motion

	// Verdicts. Direction is asked for moves and bounces only;
	// ColorChange for color changes only; the rest for every shape.
	Direction, MotionOK, SizeTrend, ColorStable, ShapeStable, ColorOK, KindOK, ColorChange shapes.Verdict
}

// MotionScore is the motion checker's verdict on one clip.
type MotionScore struct {
	Want   shapes.MotionScene
	Frames int
	Shapes []ShapeTrack
	// Flicker is the mean absolute difference between consecutive frames
	// on the pixels that are background in both (and not next to a
	// shape), in 8-bit levels (0..255), averaged over the channels and
	// frame pairs: 0 for a perfectly still background.
	Flicker    float64
	Background shapes.Verdict
	// Over the shapes: Pass only if every asked one passes. Stable is
	// ColorStable and ShapeStable together.
	Direction, Motion, SizeTrend, ColorStable, ShapeStable, Stable, ColorChange, Color, Shape shapes.Verdict
}

// Passed reports whether every asked verdict passed.
func (s MotionScore) Passed() bool {
	return all(s.Motion, s.SizeTrend, s.Stable, s.ColorChange, s.Color, s.Shape, s.Background) != shapes.Fail
}

// CheckMotion scores how well a clip follows a moving-shapes prompt: it
// reads the prompt with shapes.ParseMotionPrompt and checks the clip
// against it with CheckMotionScene.
func CheckMotion(c videoio.Clip, prompt string) (MotionScore, error) {
	want, err := shapes.ParseMotionPrompt(prompt)
	if err != nil {
		return MotionScore{}, err
	}
	return CheckMotionScene(c, want)
}

// CheckMotionScene scores a clip against a moving-shapes scene. Each
// frame goes through shapes.FindShapes; each wanted shape is tracked as
// the region that best agrees with its colors and class and lies nearest
// its last place. From the track's centroids and radii it reads the
// motion (a bounce when the path turns once along an axis with both legs
// at least MinLeg, else a move when the fitted displacement is at least
// MinTravel, else growing or shrinking when the fitted radius changes by
// MinGrowth, else a color change when the first and last thirds differ in
// color, else still) and compares it with the wanted one.
func CheckMotionScene(c videoio.Clip, want shapes.MotionScene) (MotionScore, error) {
	if err := want.Validate(); err != nil {
		return MotionScore{}, err
	}
	if c.F < 2 || c.F*c.H*c.W*3 != len(c.Frames) {
		return MotionScore{}, fmt.Errorf("evaluate: motion check needs a clip of at least 2 frames, got F=%d H=%d W=%d with %d values", c.F, c.H, c.W, len(c.Frames))
	}
	found := make([]shapes.Found, c.F)
	for k := range c.F {
		f, err := shapes.FindShapes(c.Frame(k))
		if err != nil {
			return MotionScore{}, fmt.Errorf("evaluate: frame %d: %w", k, err)
		}
		found[k] = f
	}
	sc := MotionScore{Want: want, Frames: c.F, Shapes: track(want, found)}
	bg := map[shapes.Color]int{}
	for _, f := range found {
		bg[f.Background]++
	}
	gotBG, _ := mode(bg)
	sc.Background = verdict(want.Background != shapes.NoColor, gotBG == want.Background)
	var dir, mot, size, cst, sst, st, cc, col, kind []shapes.Verdict
	for i := range sc.Shapes {
		t := &sc.Shapes[i]
		judge(t, c.F)
		dir, mot, size = append(dir, t.Direction), append(mot, t.MotionOK), append(size, t.SizeTrend)
		cst, sst = append(cst, t.ColorStable), append(sst, t.ShapeStable)
		st = append(st, all(t.ColorStable, t.ShapeStable))
		cc, col, kind = append(cc, t.ColorChange), append(col, t.ColorOK), append(kind, t.KindOK)
	}
	sc.Direction, sc.Motion, sc.SizeTrend = all(dir...), all(mot...), all(size...)
	sc.ColorStable, sc.ShapeStable, sc.Stable = all(cst...), all(sst...), all(st...)
	sc.ColorChange, sc.Color, sc.Shape = all(cc...), all(col...), all(kind...)
	sc.Flicker = flicker(c, found)
	return sc, nil
}

// track matches, frame by frame, each wanted shape to a distinct region.
func track(want shapes.MotionScene, found []shapes.Found) []ShapeTrack {
	n := len(want.Shapes)
	tr := make([]ShapeTrack, n)
	for i := range tr {
		tr[i].Want = want.Shapes[i]
	}
	last := make([]*shapes.Region, n)
	for _, f := range found {
		assign := bestAssignment(want.Shapes, f.Regions, last)
		for i := range tr {
			t := &tr[i]
			j := assign[i]
			if j < 0 {
				t.Found = append(t.Found, false)
				t.X, t.Y, t.Radius = append(t.X, math.NaN()), append(t.Y, math.NaN()), append(t.Radius, math.NaN())
				t.Colors, t.Kinds = append(t.Colors, shapes.NoColor), append(t.Kinds, shapes.KindNone)
				continue
			}
			r := f.Regions[j]
			last[i] = &r
			t.Found = append(t.Found, true)
			t.X, t.Y, t.Radius = append(t.X, r.X), append(t.Y, r.Y), append(t.Radius, r.Radius)
			t.Colors, t.Kinds = append(t.Colors, r.Color), append(t.Kinds, r.Kind)
		}
	}
	return tr
}

// bestAssignment gives each wanted shape a distinct region index (or -1),
// maximising agreement: 4 for a color the shape shows at some point, 2 for
// its class, minus 4 × the distance from where it was last seen, plus the
// region's area, plus 1 for being matched at all.
func bestAssignment(want []shapes.MovingShape, regions []shapes.Region, last []*shapes.Region) []int {
	best := make([]int, len(want))
	cur := make([]int, len(want))
	for i := range best {
		best[i] = -1
	}
	bestScore := math.Inf(-1)
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
		for j, r := range regions {
			taken := false
			for _, k := range cur[:i] {
				taken = taken || k == j
			}
			if taken {
				continue
			}
			s := 1 + r.Area
			if r.Color == want[i].Color || (want[i].To != shapes.NoColor && r.Color == want[i].To) {
				s += 4
			}
			if r.Kind == want[i].Kind {
				s += 2
			}
			if l := last[i]; l != nil {
				s -= 4 * math.Hypot(r.X-l.X, r.Y-l.Y)
			}
			cur[i] = j
			walk(i+1, score+s)
		}
	}
	walk(0, 0)
	return best
}

// judge reads the motion of a track and gives its verdicts.
func judge(t *ShapeTrack, frames int) {
	var ts, xs, ys, rs []float64
	colors, kinds := map[shapes.Color]int{}, map[shapes.Kind]int{}
	startColors, endColors := map[shapes.Color]int{}, map[shapes.Color]int{}
	for k, ok := range t.Found {
		if !ok {
			continue
		}
		tk := float64(k) / float64(frames-1)
		ts, xs, ys, rs = append(ts, tk), append(xs, t.X[k]), append(ys, t.Y[k]), append(rs, t.Radius[k])
		colors[t.Colors[k]]++
		kinds[t.Kinds[k]]++
		if 3*k < frames {
			startColors[t.Colors[k]]++
		}
		if 3*k >= 2*(frames-1) {
			endColors[t.Colors[k]]++
		}
	}
	t.FoundShare = float64(len(ts)) / float64(frames)
	want := t.Want
	if t.FoundShare < MinFoundShare || len(ts) < 2 {
		fail := shapes.Fail
		t.Direction = verdict(want.Motion.Moves(), false)
		t.ColorChange = verdict(want.Motion == shapes.ChangeColor, false)
		t.MotionOK, t.SizeTrend, t.ColorStable, t.ShapeStable, t.ColorOK, t.KindOK = fail, fail, fail, fail, fail, fail
		return
	}
	t.DX, t.DY, t.DR = slope(ts, xs), slope(ts, ys), slope(ts, rs)
	var nColor, nKind int
	t.Color, nColor = mode(colors)
	t.Kind, nKind = mode(kinds)
	t.ColorShare, t.KindShare = float64(nColor)/float64(len(ts)), float64(nKind)/float64(len(ts))
	t.StartColor, _ = mode(startColors)
	t.EndColor, _ = mode(endColors)

	turnX, turnY := turns(xs), turns(ys)
	t.Turn = turnX || turnY
	spanX, spanY := span(xs), span(ys)
	switch {
	case turnX && spanX >= spanY:
		t.Motion = shapes.BounceSideways
	case turnY:
		t.Motion = shapes.BounceUpDown
	case math.Max(math.Abs(t.DX), math.Abs(t.DY)) >= MinTravel:
		switch {
		case math.Abs(t.DX) >= math.Abs(t.DY) && t.DX > 0:
			t.Motion = shapes.MoveRight
		case math.Abs(t.DX) >= math.Abs(t.DY):
			t.Motion = shapes.MoveLeft
		case t.DY > 0:
			t.Motion = shapes.MoveDown
		default:
			t.Motion = shapes.MoveUp
		}
	case t.DR >= MinGrowth:
		t.Motion = shapes.Grow
	case t.DR <= -MinGrowth:
		t.Motion = shapes.Shrink
	case t.StartColor != t.EndColor:
		t.Motion = shapes.ChangeColor
	default:
		t.Motion = shapes.Still
	}
	t.MotionOK = verdict(true, t.Motion == want.Motion)
	t.Direction = verdict(want.Motion.Moves(), t.Motion == want.Motion)
	switch want.Motion {
	case shapes.Grow:
		t.SizeTrend = verdict(true, t.DR >= MinGrowth)
	case shapes.Shrink:
		t.SizeTrend = verdict(true, t.DR <= -MinGrowth)
	default:
		t.SizeTrend = verdict(true, math.Abs(t.DR) < MinGrowth)
	}
	t.ShapeStable = verdict(true, t.KindShare >= StableShare)
	t.KindOK = verdict(true, t.Kind == want.Kind)
	if want.Motion != shapes.ChangeColor {
		t.ColorStable = verdict(true, t.ColorShare >= StableShare)
		t.ColorOK = verdict(true, t.Color == want.Color)
		return
	}
	// A color change is stable when the frames outside the blend agree on
	// two colors, one before and one after.
	_, nStart := mode(startColors)
	_, nEnd := mode(endColors)
	t.ColorStable = verdict(true, float64(nStart) >= StableShare*float64(total(startColors)) &&
		float64(nEnd) >= StableShare*float64(total(endColors)))
	t.ColorOK = verdict(true, t.StartColor == want.Color)
	t.ColorChange = verdict(true, t.StartColor == want.Color && t.EndColor == want.To)
}

// turns reports whether a path goes one way by at least MinLeg and comes
// back by at least MinLeg, turning away from its ends.
func turns(c []float64) bool {
	n := len(c)
	if n < 5 {
		return false
	}
	hi, lo := 0, 0
	for i, v := range c {
		if v > c[hi] {
			hi = i
		}
		if v < c[lo] {
			lo = i
		}
	}
	for _, e := range []int{hi, lo} {
		if e > 0 && e < n-1 && math.Abs(c[e]-c[0]) >= MinLeg && math.Abs(c[e]-c[n-1]) >= MinLeg {
			return true
		}
	}
	return false
}

func span(c []float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range c {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return hi - lo
}

// slope is the least-squares slope of y against x.
func slope(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// mode returns the most common key (the smallest on ties, so results do
// not depend on map order) and its count.
func mode[K ~int8](m map[K]int) (K, int) {
	var best K
	n := -1
	for k, c := range m {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best, max(n, 0)
}

func total[K comparable](m map[K]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// flicker is the mean absolute change between consecutive frames over the
// pixels that are background in both frames and not next to foreground in
// either, in 8-bit levels.
func flicker(c videoio.Clip, found []shapes.Found) float64 {
	var sum float64
	var n int
	near := func(f shapes.Found, x, y int) bool {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				xx, yy := x+dx, y+dy
				if xx >= 0 && yy >= 0 && xx < f.Width && yy < f.Height && f.Foreground[yy*f.Width+xx] {
					return true
				}
			}
		}
		return false
	}
	plane := c.H * c.W * 3
	for k := 0; k+1 < c.F; k++ {
		a, b := c.Frames[k*plane:(k+1)*plane], c.Frames[(k+1)*plane:(k+2)*plane]
		for y := range c.H {
			for x := range c.W {
				if near(found[k], x, y) || near(found[k+1], x, y) {
					continue
				}
				p := 3 * (y*c.W + x)
				for ch := range 3 {
					sum += math.Abs(float64(a[p+ch]) - float64(b[p+ch]))
				}
				n += 3
			}
		}
	}
	if n == 0 {
		return 0
	}
	return 255 * sum / float64(n)
}

func verdict(asked, ok bool) shapes.Verdict {
	switch {
	case !asked:
		return shapes.NotAsked
	case ok:
		return shapes.Pass
	}
	return shapes.Fail
}

// all is Fail if any verdict fails, Pass if one passes and none fails,
// NotAsked otherwise.
func all(vs ...shapes.Verdict) shapes.Verdict {
	out := shapes.NotAsked
	for _, v := range vs {
		if v == shapes.Fail {
			return shapes.Fail
		}
		if v == shapes.Pass {
			out = shapes.Pass
		}
	}
	return out
}
