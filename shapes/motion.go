package shapes

import (
	"fmt"
	"strings"
)

// Motion is what one shape of a moving-shapes clip does over the clip.
// The zero Motion, Still, is also what a prompt that names no motion for a
// shape says.
type Motion int8

// The motions.
const (
	Still          Motion = iota
	MoveRight             // from left to right
	MoveLeft              // from right to left
	MoveDown              // from top to bottom
	MoveUp                // from bottom to top
	BounceSideways        // left and right: there and back, turning once
	BounceUpDown          // up and down, likewise
	Grow                  // from small to large in place
	Shrink                // from large to small in place
	ChangeColor           // from its Color to its To color in place
)

// Motions lists every motion, in a fixed order.
var Motions = []Motion{Still, MoveRight, MoveLeft, MoveDown, MoveUp, BounceSideways, BounceUpDown, Grow, Shrink, ChangeColor}

var motionNames = [...]string{Still: "still", MoveRight: "moving right", MoveLeft: "moving left", MoveDown: "moving down",
	MoveUp: "moving up", BounceSideways: "bouncing sideways", BounceUpDown: "bouncing up and down",
	Grow: "growing", Shrink: "shrinking", ChangeColor: "changing color"}

func (m Motion) String() string {
	if m < 0 || int(m) >= len(motionNames) {
		return fmt.Sprintf("Motion(%d)", int8(m))
	}
	return motionNames[m]
}

func (m Motion) valid() bool { return m >= Still && m <= ChangeColor }

// Direction returns the unit step of a moving motion in image axes (x
// right, y down): (1, 0) for MoveRight, (0, -1) for MoveUp; (0, 0) for the
// others.
func (m Motion) Direction() (dx, dy int) {
	switch m {
	case MoveRight:
		return 1, 0
	case MoveLeft:
		return -1, 0
	case MoveDown:
		return 0, 1
	case MoveUp:
		return 0, -1
	}
	return 0, 0
}

// Moves reports whether m changes the shape's place (a move or a bounce).
func (m Motion) Moves() bool { return m >= MoveRight && m <= BounceUpDown }

// MovingShape is one shape of a clip: its first frame (Shape; the Color
// it starts in, its Size at the start and, for a shape that stays in
// place, its grid cell) and what it does.
type MovingShape struct {
	Shape
	Motion Motion
	// To is the color a ChangeColor shape ends in; NoColor otherwise.
	To Color
}

// MotionScene is a clip of one or two moving shapes on a plain
// background, as a caption says it or as the generator drew it. A scene
// read from a prompt leaves unsaid attributes at their zero values, as
// [Scene] does; a shape whose motion is unsaid is Still.
type MotionScene struct {
	Background Color // NoColor when unsaid
	Shapes     []MovingShape
}

// Start returns the scene of the first frame.
func (s MotionScene) Start() Scene {
	sc := Scene{Background: s.Background}
	for _, sh := range s.Shapes {
		sc.Shapes = append(sc.Shapes, sh.Shape)
	}
	return sc
}

// Validate reports whether s is a clip this package can draw and check:
// its first frame is a valid [Scene] without a relation, each motion is
// known, and a ChangeColor shape ends in a color that no other shape
// shows, that is not the background and not its own first color.
func (s MotionScene) Validate() error {
	if err := s.Start().Validate(); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidScene, fmt.Sprintf(format, args...))
	}
	for i, sh := range s.Shapes {
		switch {
		case !sh.Motion.valid():
			return bad("shape %d: unknown motion %d", i, sh.Motion)
		case sh.Motion != ChangeColor && sh.To != NoColor:
			return bad("shape %d: an end color without a color change", i)
		case sh.Motion != ChangeColor:
			continue
		case !sh.To.valid():
			return bad("shape %d: color change without an end color", i)
		case sh.To == sh.Color:
			return bad("shape %d changes from %s to %s", i, sh.Color, sh.To)
		case sh.To == s.Background:
			return bad("shape %d turns %s on a %s background", i, sh.To, s.Background)
		}
		for j, o := range s.Shapes {
			if j != i && (o.Color == sh.To || o.To == sh.To) {
				return bad("shape %d turns %s, the color of shape %d", i, sh.To, j)
			}
		}
	}
	return nil
}

// String returns the canonical caption of s: "a red circle moving from
// left to right on a blue background", "a small star growing in the
// center", "a circle changing from red to blue and a green square".
func (s MotionScene) String() string {
	var parts []string
	for _, sh := range s.Shapes {
		parts = append(parts, movingShapePhrase(sh, nil))
	}
	out := strings.Join(parts, " and ")
	if s.Background != NoColor && out != "" {
		out += " on " + withArticle(s.Background.String()) + " background"
	}
	return out
}

// MotionClasses are the classes of the motion attributes
// [MotionCondition] adds for each of the two shapes, in order: the motion
// (class = Motion, so 0 is Still or not said) and the end color of a color
// change (class = Color, 0 for none).
var MotionClasses = []int{len(motionNames), len(colorNames)}

// MotionConditionSize is the length of the vector [MotionCondition]
// returns: ConditionSize, then MotionClasses for the first and for the
// second shape (70 + 2 × (10 + 9) = 108).
const MotionConditionSize = ConditionSize + 2*(10+9)

// MotionCondition returns the one-hot encoding of what a moving-shapes
// prompt says, for a model conditioned without a text encoder: the first
// ConditionSize values are [Condition] of the first frame's scene (its
// colors are the start colors), then, for shape 1 and shape 2 in turn, a
// one-hot of its Motion (10 classes) and of its end color (9 classes, 0
// when it does not change color). "" is the unconditional prompt.
func MotionCondition(prompt string) ([]float32, error) {
	var s MotionScene
	if prompt != "" {
		var err error
		if s, err = ParseMotionPrompt(prompt); err != nil {
			return nil, err
		}
	}
	v := make([]float32, MotionConditionSize)
	off := 0
	for k, c := range s.Start().Attributes() {
		v[off+c] = 1
		off += AttributeClasses[k]
	}
	for i := range 2 {
		var sh MovingShape
		if i < len(s.Shapes) {
			sh = s.Shapes[i]
		}
		v[off+int(sh.Motion)] = 1
		off += MotionClasses[0]
		v[off+int(sh.To)] = 1
		off += MotionClasses[1]
	}
	return v, nil
}
