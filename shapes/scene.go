package shapes

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the class of a shape.
type Kind int8

// The shape classes. The zero Kind is not a shape; a [Shape] always names one.
const (
	KindNone Kind = iota
	Circle
	Square
	Triangle
	Star
	Heart
)

// Kinds lists every shape class, in a fixed order.
var Kinds = []Kind{Circle, Square, Triangle, Star, Heart}

var kindNames = [...]string{KindNone: "", Circle: "circle", Square: "square", Triangle: "triangle", Star: "star", Heart: "heart"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int8(k))
	}
	return kindNames[k]
}

func (k Kind) valid() bool { return k >= Circle && k <= Heart }

// Size is the size class of a shape. The zero Size means "not said".
type Size int8

// The size classes.
const (
	SizeAny Size = iota
	Small
	Large
)

var sizeNames = [...]string{SizeAny: "", Small: "small", Large: "large"}

func (s Size) String() string {
	if s < 0 || int(s) >= len(sizeNames) {
		return fmt.Sprintf("Size(%d)", int8(s))
	}
	return sizeNames[s]
}

// Position is where a shape sits in the picture: one cell of a 3x3 grid.
// The zero Position means "not said".
type Position int8

// The positions, named as captions say them.
const (
	PosAny Position = iota
	Center
	Left
	Right
	Top
	Bottom
	TopLeft
	TopRight
	BottomLeft
	BottomRight
)

// Positions lists every position, in a fixed order.
var Positions = []Position{Center, Left, Right, Top, Bottom, TopLeft, TopRight, BottomLeft, BottomRight}

var posNames = [...]string{PosAny: "", Center: "center", Left: "left", Right: "right", Top: "top", Bottom: "bottom",
	TopLeft: "top left", TopRight: "top right", BottomLeft: "bottom left", BottomRight: "bottom right"}

func (p Position) String() string {
	if p < 0 || int(p) >= len(posNames) {
		return fmt.Sprintf("Position(%d)", int8(p))
	}
	return posNames[p]
}

// cell returns the grid column and row of p, each 0, 1 or 2.
func (p Position) cell() (col, row int) {
	switch p {
	case Left:
		return 0, 1
	case Right:
		return 2, 1
	case Top:
		return 1, 0
	case Bottom:
		return 1, 2
	case TopLeft:
		return 0, 0
	case TopRight:
		return 2, 0
	case BottomLeft:
		return 0, 2
	case BottomRight:
		return 2, 2
	}
	return 1, 1
}

// positionOfCell is the inverse of Position.cell.
func positionOfCell(col, row int) Position {
	for _, p := range Positions {
		if c, r := p.cell(); c == col && r == row {
			return p
		}
	}
	return PosAny
}

// Relation is where the first shape of a two-shape scene sits relative to
// the second. The zero Relation means "not said".
type Relation int8

// The relations: "A above B" and so on.
const (
	RelNone Relation = iota
	Above
	Below
	LeftOf
	RightOf
)

var relNames = [...]string{RelNone: "", Above: "above", Below: "below", LeftOf: "left of", RightOf: "right of"}

func (r Relation) String() string {
	if r < 0 || int(r) >= len(relNames) {
		return fmt.Sprintf("Relation(%d)", int8(r))
	}
	return relNames[r]
}

// Shape is one shape of a scene. Color and Kind are always set; Size and
// Position may be left unsaid (SizeAny, PosAny) in a prompt.
type Shape struct {
	Kind     Kind
	Color    Color
	Size     Size
	Position Position
}

// Scene is a picture of one or two shapes on a plain background, as a
// caption says it or as the generator drew it.
//
// A scene read from a prompt leaves unsaid attributes at their zero values
// (no Background, SizeAny, PosAny, RelNone); a scene the generator drew has
// every attribute set except Relation, which is set only when the shapes
// were placed relative to each other.
type Scene struct {
	Background Color   // NoColor when unsaid
	Shapes     []Shape // one or two
	Relation   Relation
}

// ErrInvalidScene is returned (wrapped) by [Scene.Validate] and by the
// functions that take a Scene when it breaks the rules of the dataset.
var ErrInvalidScene = errors.New("shapes: invalid scene")

// Validate reports whether s is a scene this package can draw and check:
// one or two shapes with known kinds and colors, two shapes of different
// colors, no shape in the background color, and a relation only between
// two shapes that then have no positions of their own said.
func (s Scene) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidScene, fmt.Sprintf(format, args...))
	}
	if len(s.Shapes) < 1 || len(s.Shapes) > 2 {
		return bad("%d shapes, want 1 or 2", len(s.Shapes))
	}
	if s.Background != NoColor && !s.Background.valid() {
		return bad("unknown background color %d", s.Background)
	}
	for i, sh := range s.Shapes {
		switch {
		case !sh.Kind.valid():
			return bad("shape %d: unknown kind %d", i, sh.Kind)
		case !sh.Color.valid():
			return bad("shape %d: no color", i)
		case sh.Size < SizeAny || sh.Size > Large:
			return bad("shape %d: unknown size %d", i, sh.Size)
		case sh.Position < PosAny || sh.Position > BottomRight:
			return bad("shape %d: unknown position %d", i, sh.Position)
		case sh.Color == s.Background:
			return bad("shape %d is %s on a %s background", i, sh.Color, s.Background)
		}
	}
	if len(s.Shapes) == 2 && s.Shapes[0].Color == s.Shapes[1].Color {
		return bad("both shapes are %s", s.Shapes[0].Color)
	}
	if s.Relation < RelNone || s.Relation > RightOf {
		return bad("unknown relation %d", s.Relation)
	}
	if s.Relation != RelNone && len(s.Shapes) != 2 {
		return bad("relation %q needs two shapes", s.Relation)
	}
	return nil
}

// String returns the canonical caption of s, the first phrasing the
// generator uses: "a large red circle at the top left on a black
// background", "a red circle above a blue square".
func (s Scene) String() string {
	if len(s.Shapes) == 0 {
		return ""
	}
	var b strings.Builder
	writeShape := func(sh Shape) {
		b.WriteString(nounPhrase(sh, false))
		if sh.Position != PosAny {
			b.WriteString(" " + positionPhrases[sh.Position][0])
		}
	}
	writeShape(s.Shapes[0])
	if len(s.Shapes) == 2 {
		if s.Relation != RelNone {
			b.WriteString(" " + relationPhrases[s.Relation][0] + " ")
		} else {
			b.WriteString(" and ")
		}
		writeShape(s.Shapes[1])
	}
	if s.Background != NoColor {
		b.WriteString(" on " + withArticle(s.Background.String()) + " background")
	}
	return b.String()
}

// clone returns a copy of s that shares no memory with it.
func (s Scene) clone() Scene {
	s.Shapes = append([]Shape(nil), s.Shapes...)
	return s
}
