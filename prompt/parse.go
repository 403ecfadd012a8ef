package prompt

import (
	"regexp"
	"strconv"
)

// Span is a run of prompt text with one attention weight. Break marks a
// BREAK keyword, which ends the current chunk (its Text and Weight are
// unused).
type Span struct {
	Text   string
	Weight float64
	Break  bool
}

// Multipliers of one pair of brackets, as in AUTOMATIC1111.
const (
	RoundMultiplier  = 1.1
	SquareMultiplier = 1 / 1.1
)

// attentionToken splits a prompt into escapes, brackets, weight closers
// (":1.3)"), plain text and lone colons, in that order of preference.
var attentionToken = regexp.MustCompile(`\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()\[\]:]+|:`)

// breakWord splits plain text at the BREAK keyword, eating the spaces
// around it.
var breakWord = regexp.MustCompile(`\s*\bBREAK\b\s*`)

// Parse splits text into weighted spans with AUTOMATIC1111's rules:
// brackets left open multiply everything after them, a closing bracket
// with no opener and a weight closer ":1.3)" with no open round bracket are
// literal text, and neighbouring spans of equal weight are merged. An empty
// prompt gives one empty span of weight 1.
func Parse(text string) []Span {
	var res []Span
	var round, square []int
	multiplyFrom := func(start int, m float64) {
		for i := start; i < len(res); i++ {
			res[i].Weight *= m
		}
	}
	for _, m := range attentionToken.FindAllStringSubmatchIndex(text, -1) {
		tok := text[m[0]:m[1]]
		var weight string
		hasWeight := m[2] >= 0
		if hasWeight {
			weight = text[m[2]:m[3]]
		}
		w, werr := strconv.ParseFloat(weight, 64)
		switch {
		case tok[0] == '\\':
			res = append(res, Span{Text: tok[1:], Weight: 1})
		case tok == "(":
			round = append(round, len(res))
		case tok == "[":
			square = append(square, len(res))
		case hasWeight && werr == nil && len(round) > 0:
			multiplyFrom(round[len(round)-1], w)
			round = round[:len(round)-1]
		case tok == ")" && len(round) > 0:
			multiplyFrom(round[len(round)-1], RoundMultiplier)
			round = round[:len(round)-1]
		case tok == "]" && len(square) > 0:
			multiplyFrom(square[len(square)-1], SquareMultiplier)
			square = square[:len(square)-1]
		default:
			res = appendText(res, tok)
		}
	}
	for _, pos := range round {
		multiplyFrom(pos, RoundMultiplier)
	}
	for _, pos := range square {
		multiplyFrom(pos, SquareMultiplier)
	}
	if len(res) == 0 {
		return []Span{{Text: "", Weight: 1}}
	}
	return merge(res)
}

// appendText adds plain text, split at BREAK keywords.
func appendText(res []Span, text string) []Span {
	idx := breakWord.FindAllStringIndex(text, -1)
	start := 0
	for _, b := range idx {
		res = append(res, Span{Text: text[start:b[0]], Weight: 1}, Span{Break: true, Weight: -1})
		start = b[1]
	}
	return append(res, Span{Text: text[start:], Weight: 1})
}

// merge joins neighbouring spans of equal weight (BREAKs never merge).
func merge(res []Span) []Span {
	out := res[:1]
	for _, s := range res[1:] {
		last := &out[len(out)-1]
		if !s.Break && !last.Break && s.Weight == last.Weight {
			last.Text += s.Text
			continue
		}
		out = append(out, s)
	}
	return out
}
