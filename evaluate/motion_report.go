package evaluate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// MotionReport aggregates motion scores: each asked verdict of each shape
// is one trial (a two-shape clip checks two motions), as shapes.Report
// counts a picture's attributes.
type MotionReport struct {
	Clips int
	// Direction counts moving and bouncing shapes; Motion every shape;
	// Stable a shape whose color and class both hold over the clip.
	Direction, Motion, SizeTrend, ColorStable, ShapeStable, Stable, ColorChange, Color, Shape, Background shapes.Accuracy
	// Passed counts the clips whose every asked verdict passed.
	Passed shapes.Accuracy
	// ByMotion is Motion split by the wanted motion.
	ByMotion map[shapes.Motion]shapes.Accuracy
	// Flicker is the mean over clips of MotionScore.Flicker (8-bit
	// levels); FlickerMax the largest.
	Flicker, FlickerMax float64
}

func count(a *shapes.Accuracy, v shapes.Verdict) {
	if v != shapes.NotAsked {
		a.Total++
		if v == shapes.Pass {
			a.Pass++
		}
	}
}

// Add counts one score.
func (r *MotionReport) Add(s MotionScore) {
	if r.ByMotion == nil {
		r.ByMotion = map[shapes.Motion]shapes.Accuracy{}
	}
	r.Flicker = (r.Flicker*float64(r.Clips) + s.Flicker) / float64(r.Clips+1)
	r.FlickerMax = max(r.FlickerMax, s.Flicker)
	r.Clips++
	for _, t := range s.Shapes {
		count(&r.Direction, t.Direction)
		count(&r.Motion, t.MotionOK)
		count(&r.SizeTrend, t.SizeTrend)
		count(&r.ColorStable, t.ColorStable)
		count(&r.ShapeStable, t.ShapeStable)
		count(&r.Stable, all(t.ColorStable, t.ShapeStable))
		count(&r.ColorChange, t.ColorChange)
		count(&r.Color, t.ColorOK)
		count(&r.Shape, t.KindOK)
		a := r.ByMotion[t.Want.Motion]
		count(&a, t.MotionOK)
		r.ByMotion[t.Want.Motion] = a
	}
	count(&r.Background, s.Background)
	count(&r.Passed, verdict(true, s.Passed()))
}

// String returns the report as a table, one measure a line.
func (r MotionReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clips\n", r.Clips)
	for _, row := range []struct {
		name string
		a    shapes.Accuracy
	}{
		{"direction (moves, bounces)", r.Direction}, {"motion (all shapes)", r.Motion}, {"size trend", r.SizeTrend},
		{"color stable", r.ColorStable}, {"shape stable", r.ShapeStable}, {"color+shape stable", r.Stable},
		{"color change", r.ColorChange}, {"color", r.Color}, {"shape", r.Shape}, {"background", r.Background},
		{"all passed (clips)", r.Passed},
	} {
		fmt.Fprintf(&b, "%-28s %v\n", row.name, row.a)
	}
	motions := make([]shapes.Motion, 0, len(r.ByMotion))
	for m := range r.ByMotion {
		motions = append(motions, m)
	}
	slices.Sort(motions)
	for _, m := range motions {
		fmt.Fprintf(&b, "  motion %-20s %v\n", m.String()+":", r.ByMotion[m])
	}
	fmt.Fprintf(&b, "%-28s %.3f mean, %.3f max (8-bit levels)\n", "background flicker", r.Flicker, r.FlickerMax)
	return b.String()
}

// MotionCase is one clip and the prompt it was made from.
type MotionCase struct {
	Clip   videoio.Clip
	Prompt string
}

// EvaluateMotion checks every case with CheckMotion and aggregates the
// scores. A prompt the parser cannot read or a clip the checker cannot
// take is an error naming the case.
func EvaluateMotion(cases []MotionCase) (MotionReport, error) {
	var r MotionReport
	for i, c := range cases {
		s, err := CheckMotion(c.Clip, c.Prompt)
		if err != nil {
			return MotionReport{}, fmt.Errorf("evaluate: motion case %d: %w", i, err)
		}
		r.Add(s)
	}
	return r, nil
}
