package shapes

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// motionPhrases are the phrasings of each motion; index 0 is the
// canonical one. A "*" stands for a color word: the first and the end
// color of a ChangeColor shape. Still is usually left unsaid.
var motionPhrases = [...][]string{
	Still:          {"staying still", "standing still"},
	MoveRight:      {"moving from left to right", "moving to the right", "sliding from left to right"},
	MoveLeft:       {"moving from right to left", "moving to the left", "sliding from right to left"},
	MoveDown:       {"moving from top to bottom", "moving down", "falling"},
	MoveUp:         {"moving from bottom to top", "moving up", "rising"},
	BounceSideways: {"bouncing left and right", "bouncing from side to side"},
	BounceUpDown:   {"bouncing up and down"},
	Grow:           {"growing", "getting bigger"},
	Shrink:         {"shrinking", "getting smaller"},
	ChangeColor:    {"changing from * to *", "turning from * to *", "changing color from * to *"},
}

// movingShapePhrase says one shape of a clip: "a red circle moving from
// left to right", "a small star growing in the center", "a circle
// changing from red to blue". pick chooses among phrasings; nil gives the
// canonical one.
func movingShapePhrase(sh MovingShape, pick func(n int) int) string {
	if pick == nil {
		pick = func(int) int { return 0 }
	}
	oneOf := func(list []string) string { return list[pick(len(list))] }
	var words []string
	if sh.Size != SizeAny {
		words = append(words, oneOf(sizeWords[sh.Size]))
	}
	colorAfter := false
	if sh.Motion != ChangeColor {
		if colorAfter = pick(6) == 5; !colorAfter {
			words = append(words, sh.Color.String())
		}
	}
	words = append(words, sh.Kind.String())
	s := withArticle(strings.Join(words, " "))
	if colorAfter {
		s += " in " + sh.Color.String()
	}
	switch {
	case sh.Motion == ChangeColor:
		p := oneOf(motionPhrases[ChangeColor])
		p = strings.Replace(p, "*", sh.Color.String(), 1)
		s += " " + strings.Replace(p, "*", sh.To.String(), 1)
	case sh.Motion != Still:
		s += " " + oneOf(motionPhrases[sh.Motion])
	case pick(10) >= 6: // a still shape says so now and then
		s += " " + oneOf(motionPhrases[Still])
	}
	if sh.Position != PosAny {
		s += " " + oneOf(positionPhrases[sh.Position])
	}
	return s
}

// motionCaption writes a caption for prompt in a randomly chosen phrasing.
func motionCaption(rng *rand.Rand, prompt MotionScene) string {
	var parts []string
	for _, sh := range prompt.Shapes {
		parts = append(parts, movingShapePhrase(sh, rng.IntN))
	}
	core := strings.Join(parts, " and ")
	if prompt.Background == NoColor {
		return core
	}
	bg := withArticle(prompt.Background.String()) + " background"
	if rng.IntN(10) < 7 {
		return core + " on " + bg
	}
	return bg + " with " + core
}

// motionMatch is one motion phrase found in a prompt's words.
type motionMatch struct {
	at, n    int // words[at : at+n]
	motion   Motion
	from, to Color
}

// matchMotion finds the longest motion phrase starting at words[i].
func matchMotion(words []string, i int) (motionMatch, bool) {
	best := motionMatch{}
	for _, m := range Motions {
		for _, p := range motionPhrases[m] {
			pw := strings.Fields(p)
			if len(pw) <= best.n || i+len(pw) > len(words) {
				continue
			}
			cur := motionMatch{at: i, n: len(pw), motion: m}
			ok := true
			for j, w := range pw {
				if w != "*" {
					ok = ok && words[i+j] == w
					continue
				}
				c, isColor := colorByWord[words[i+j]]
				if !isColor {
					ok = false
				} else if cur.from == NoColor {
					cur.from = c
				} else {
					cur.to = c
				}
			}
			if ok {
				best = cur
			}
		}
	}
	return best, best.n > 0
}

// ParseMotionPrompt reads a moving-shapes caption in any of the
// generator's phrasings back into the MotionScene it says: "a red circle
// moving from left to right on a blue background", "a small star growing
// in the center", "a black background with a circle changing from red to
// blue and a yellow heart". A shape without a motion phrase is Still.
// The rest of each shape's words follow [ParsePrompt]'s rules, except
// that relations ("above") are not part of this language. Errors wrap
// [ErrPrompt].
func ParseMotionPrompt(prompt string) (MotionScene, error) {
	fail := func(format string, args ...any) (MotionScene, error) {
		return MotionScene{}, fmt.Errorf("%w %q: %s", ErrPrompt, prompt, fmt.Sprintf(format, args...))
	}
	words := promptWords(prompt)
	// Cut the motion phrases out, each belonging to the shape named last
	// before it; a color change leaves its first color behind ("a circle
	// in red"), so that the rest reads as a picture's caption.
	var rest []string
	motions := map[int]motionMatch{}
	shapesSeen := 0
	for i := 0; i < len(words); i++ {
		if _, ok := kindByWord[words[i]]; ok {
			shapesSeen++
		}
		m, ok := matchMotion(words, i)
		if !ok {
			rest = append(rest, words[i])
			continue
		}
		if shapesSeen == 0 {
			return fail("%q before its shape", strings.Join(words[i:i+m.n], " "))
		}
		if _, dup := motions[shapesSeen-1]; dup {
			return fail("two motions for one shape")
		}
		motions[shapesSeen-1] = m
		if m.motion == ChangeColor {
			rest = append(rest, "in", m.from.String())
		}
		i += m.n - 1
	}
	if slices.ContainsFunc(rest, func(w string) bool { _, ok := relationWords[w]; return ok }) {
		return fail("relations are not part of a moving-shapes caption")
	}
	still, err := ParsePrompt(strings.Join(rest, " "))
	if err != nil {
		return MotionScene{}, fmt.Errorf("%w %q: %w", ErrPrompt, prompt, err)
	}
	if still.Relation != RelNone {
		return fail("relations are not part of a moving-shapes caption")
	}
	s := MotionScene{Background: still.Background}
	for i, sh := range still.Shapes {
		m := motions[i]
		s.Shapes = append(s.Shapes, MovingShape{Shape: sh, Motion: m.motion, To: m.to})
	}
	if err := s.Validate(); err != nil {
		return MotionScene{}, fmt.Errorf("%w %q: %w", ErrPrompt, prompt, err)
	}
	return s, nil
}
