package shapes

import (
	"math/rand/v2"
	"strings"
)

// The phrasings of captions. Index 0 of each list is the canonical one that
// Scene.String uses; the generator picks among all of them, and
// ParsePrompt reads every one.
var (
	positionPhrases = [...][]string{
		Center:      {"in the center", "in the middle", "at the center"},
		Left:        {"at the left", "on the left", "on the left side"},
		Right:       {"at the right", "on the right", "on the right side"},
		Top:         {"at the top", "near the top"},
		Bottom:      {"at the bottom", "near the bottom"},
		TopLeft:     {"at the top left", "in the top left corner", "in the upper left"},
		TopRight:    {"at the top right", "in the top right corner", "in the upper right"},
		BottomLeft:  {"at the bottom left", "in the bottom left corner", "in the lower left"},
		BottomRight: {"at the bottom right", "in the bottom right corner", "in the lower right"},
	}
	relationPhrases = [...][]string{
		Above:   {"above", "over"},
		Below:   {"below", "under", "beneath"},
		LeftOf:  {"to the left of", "left of"},
		RightOf: {"to the right of", "right of"},
	}
	sizeWords = [...][]string{
		Small: {"small", "little"},
		Large: {"large", "big"},
	}
)

// withArticle puts "a" or "an" before a word.
func withArticle(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

// nounPhrase says a shape without its position: "a large red circle", or
// with colorAfter "a large circle in red".
func nounPhrase(sh Shape, colorAfter bool) string {
	words := make([]string, 0, 4)
	if sh.Size != SizeAny {
		words = append(words, sizeWords[sh.Size][0])
	}
	if !colorAfter {
		words = append(words, sh.Color.String())
	}
	words = append(words, sh.Kind.String())
	s := withArticle(strings.Join(words, " "))
	if colorAfter {
		s += " in " + sh.Color.String()
	}
	return s
}

// phrase writes a caption for prompt in a randomly chosen phrasing.
func phrase(rng *rand.Rand, prompt Scene) string {
	oneOf := func(list []string) string { return list[rng.IntN(len(list))] }
	shape := func(sh Shape) string {
		colorAfter := rng.IntN(6) == 0
		size := sh.Size
		sh.Size = SizeAny
		np := nounPhrase(sh, colorAfter)
		if size != SizeAny {
			// Put a size word, maybe a synonym, after the article.
			_, rest, _ := strings.Cut(np, " ")
			np = withArticle(oneOf(sizeWords[size]) + " " + rest)
		}
		if sh.Position != PosAny {
			np += " " + oneOf(positionPhrases[sh.Position][:])
		}
		return np
	}
	var core string
	switch {
	case len(prompt.Shapes) == 1:
		core = shape(prompt.Shapes[0])
	case prompt.Relation != RelNone:
		core = shape(prompt.Shapes[0]) + " " + oneOf(relationPhrases[prompt.Relation]) + " " + shape(prompt.Shapes[1])
	default:
		core = shape(prompt.Shapes[0]) + " and " + shape(prompt.Shapes[1])
	}
	if prompt.Background == NoColor {
		return core
	}
	bg := withArticle(prompt.Background.String()) + " background"
	if rng.IntN(10) < 7 {
		return core + " on " + bg
	}
	return bg + " with " + core
}
