package shapes

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrPrompt is returned (wrapped, with the word or rule at fault) by
// [ParsePrompt] and [Check] for prompts that do not describe a scene in the
// dataset's language.
var ErrPrompt = errors.New("shapes: cannot read prompt")

// fillerWords carry no meaning of their own in captions; ParsePrompt skips
// them ("in" and "of" also take part in the rules below).
var fillerWords = map[string]bool{
	"a": true, "an": true, "the": true, "at": true, "on": true, "in": true, "near": true, "side": true,
	"corner": true, "with": true, "and": true, "to": true, "of": true, "is": true, "there": true,
	"one": true, "colored": true, "coloured": true, "shape": true, "picture": true, "image": true, "photo": true,
}

var relationWords = map[string]Relation{"above": Above, "over": Above, "below": Below, "under": Below, "beneath": Below}

// placeWord is one word of a position phrase: a row, a column, or (for
// "center") neither, which leaves both at the middle.
type placeWord struct{ col, row int } // -1 where the word says nothing

var placeWords = map[string]placeWord{
	"top": {-1, 0}, "upper": {-1, 0}, "bottom": {-1, 2}, "lower": {-1, 2},
	"left": {0, -1}, "right": {2, -1}, "center": {-1, -1}, "centre": {-1, -1}, "middle": {-1, -1},
}

var (
	kindByWord  = wordTable(kindNames[:], Kinds, nil)
	colorByWord = wordTable(colorNames[:], Colors, nil)
	sizeByWord  = map[string]Size{"small": Small, "little": Small, "tiny": Small, "large": Large, "big": Large}
)

func wordTable[T ~int8](names []string, values []T, extra map[string]T) map[string]T {
	m := make(map[string]T, len(values)+len(extra))
	for _, v := range values {
		m[names[v]] = v
	}
	for w, v := range extra {
		m[w] = v
	}
	return m
}

// promptWords lowercases s and splits it into runs of letters.
func promptWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) })
}

// ParsePrompt reads a caption in any of the generator's phrasings back into
// the Scene it says: "a large blue star at the top left", "a yellow
// triangle above a green square on a black background", "a black
// background with a small circle in red". Unsaid attributes stay at their
// zero values. Case and punctuation are ignored; filler words ("a", "the",
// "with", "corner", ...) are skipped; any other unknown word is an error
// wrapping [ErrPrompt], as is a prompt that names no shape, more than two,
// or a shape without a color.
func ParsePrompt(prompt string) (Scene, error) {
	words := promptWords(prompt)
	fail := func(format string, args ...any) (Scene, error) {
		return Scene{}, fmt.Errorf("%w %q: %s", ErrPrompt, prompt, fmt.Sprintf(format, args...))
	}
	var s Scene
	used := make([]bool, len(words))
	for i, w := range words {
		if w != "background" {
			continue
		}
		c, ok := colorByWord[prev(words, i)]
		if !ok {
			return fail(`"background" without a color before it`)
		}
		if s.Background != NoColor {
			return fail("two backgrounds")
		}
		s.Background = c
		used[i-1], used[i] = true, true
	}

	var pending Shape // adjectives read before their noun
	afterKind := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if used[i] {
			continue
		}
		if size, ok := sizeByWord[w]; ok {
			if pending.Size != SizeAny {
				return fail("two sizes for one shape")
			}
			pending.Size = size
			afterKind = false
			continue
		}
		if c, ok := colorByWord[w]; ok {
			last := len(s.Shapes) - 1
			if afterKind && prev(words, i) == "in" && s.Shapes[last].Color == NoColor {
				s.Shapes[last].Color = c // "a star in red"
			} else if pending.Color != NoColor {
				return fail("two colors for one shape")
			} else {
				pending.Color = c
			}
			afterKind = false
			continue
		}
		if k, ok := kindByWord[w]; ok {
			if len(s.Shapes) == 2 {
				return fail("more than two shapes")
			}
			pending.Kind = k
			s.Shapes = append(s.Shapes, pending)
			pending, afterKind = Shape{}, true
			continue
		}
		if rel, ok := relationWords[w]; ok {
			if err := s.setRelation(rel, pending); err != nil {
				return fail("%v", err)
			}
			afterKind = false
			continue
		}
		if _, ok := placeWords[w]; ok {
			j := i
			for j < len(words) && !used[j] && isPlaceWord(words[j]) {
				j++
			}
			run := words[i:j]
			i = j - 1
			afterKind = false
			if j < len(words) && words[j] == "of" {
				rel := map[string]Relation{"left": LeftOf, "right": RightOf}[run[0]]
				if len(run) != 1 || rel == RelNone {
					return fail("%q of", strings.Join(run, " "))
				}
				if err := s.setRelation(rel, pending); err != nil {
					return fail("%v", err)
				}
				continue
			}
			pos, err := positionOfWords(run)
			if err != nil {
				return fail("%v", err)
			}
			last := len(s.Shapes) - 1
			switch {
			case last < 0 || pending != (Shape{}):
				return fail("position %q before its shape", pos)
			case s.Shapes[last].Position != PosAny:
				return fail("two positions for one shape")
			}
			s.Shapes[last].Position = pos
			continue
		}
		if !fillerWords[w] {
			return fail("unknown word %q", w)
		}
	}
	switch {
	case pending != (Shape{}):
		return fail("%q without a shape", strings.TrimSpace(pending.Size.String()+" "+pending.Color.String()))
	case len(s.Shapes) == 0:
		return fail("no shape (want one of circle, square, triangle, star, heart)")
	case s.Relation != RelNone && len(s.Shapes) != 2:
		return fail("%q needs a shape on each side", s.Relation)
	}
	for _, sh := range s.Shapes {
		if sh.Color == NoColor {
			return fail("the %s has no color", sh.Kind)
		}
	}
	if err := s.Validate(); err != nil {
		return Scene{}, fmt.Errorf("%w %q: %w", ErrPrompt, prompt, err)
	}
	return s, nil
}

func prev(words []string, i int) string {
	if i == 0 {
		return ""
	}
	return words[i-1]
}

func isPlaceWord(w string) bool { _, ok := placeWords[w]; return ok }

// setRelation records "A rel B" once the first shape has been read.
func (s *Scene) setRelation(rel Relation, pending Shape) error {
	switch {
	case s.Relation != RelNone:
		return errors.New("two relations")
	case len(s.Shapes) != 1 || pending != (Shape{}):
		return fmt.Errorf("%q must follow the first shape", rel)
	}
	s.Relation = rel
	return nil
}

// positionOfWords combines "top" and "left" into TopLeft, and so on.
func positionOfWords(run []string) (Position, error) {
	col, row := -1, -1
	for _, w := range run {
		p := placeWords[w]
		if (p.col >= 0 && col >= 0) || (p.row >= 0 && row >= 0) {
			return PosAny, fmt.Errorf("position %q says a side twice", strings.Join(run, " "))
		}
		if p.col >= 0 {
			col = p.col
		}
		if p.row >= 0 {
			row = p.row
		}
	}
	// A missing row or column is the middle one: "left" is the middle row.
	if col < 0 {
		col = 1
	}
	if row < 0 {
		row = 1
	}
	return positionOfCell(col, row), nil
}
