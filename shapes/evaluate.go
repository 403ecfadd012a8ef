package shapes

import (
	"fmt"
	"image"
)

// Accuracy counts passes out of checked attributes.
type Accuracy struct {
	Pass, Total int
}

// Rate is Pass/Total, or 0 when nothing was checked.
func (a Accuracy) Rate() float64 {
	if a.Total == 0 {
		return 0
	}
	return float64(a.Pass) / float64(a.Total)
}

func (a Accuracy) String() string {
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*a.Rate(), a.Pass, a.Total)
}

func (a *Accuracy) add(v Verdict) {
	if v != NotAsked {
		a.Total++
		if v == Pass {
			a.Pass++
		}
	}
}

// Report aggregates scores: each attribute of each shape a prompt asks for
// is one trial of its accuracy (a two-shape prompt checks two colors).
// Position counts grid cells and relations together.
type Report struct {
	Images                                             int
	Color, Shape, Size, Position, Relation, Background Accuracy
	// Passed counts the images whose every asked attribute passed.
	Passed Accuracy
}

// Add counts one score.
func (r *Report) Add(s Score) {
	r.Images++
	for _, sh := range s.Shapes {
		r.Color.add(sh.Color)
		r.Shape.add(sh.Kind)
		r.Size.add(sh.Size)
		r.Position.add(sh.Position)
	}
	r.Position.add(s.Relation)
	r.Relation.add(s.Relation)
	r.Background.add(s.Background)
	r.Passed.add(verdict(true, s.Passed()))
}

func (r Report) String() string {
	return fmt.Sprintf("%d images: color %v, shape %v, size %v, position %v (relation %v), background %v, all %v",
		r.Images, r.Color, r.Shape, r.Size, r.Position, r.Relation, r.Background, r.Passed)
}

// Case is one picture and the prompt it was made from.
type Case struct {
	Image  image.Image
	Prompt string
}

// Evaluate checks every case with [Check] and aggregates the scores. A
// prompt the parser cannot read or an image the checker cannot take is
// an error naming the case.
func Evaluate(cases []Case) (Report, error) {
	var r Report
	for i, c := range cases {
		s, err := Check(c.Image, c.Prompt)
		if err != nil {
			return Report{}, fmt.Errorf("shapes: evaluate case %d: %w", i, err)
		}
		r.Add(s)
	}
	return r, nil
}
