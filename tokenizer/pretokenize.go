package tokenizer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is one pre-token: the unit a subword model sees.
type word struct {
	text    string
	atStart bool // begins at offset 0 of the input (Metaspace "first")
}

// preTokenizer splits normalized text into words.
type preTokenizer interface {
	split(in []word) []word
}

// splitBehavior says what happens to the pieces a Split pattern matches,
// as in tokenizers' SplitDelimiterBehavior.
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
)

// regexSplit is tokenizers' Split pre-tokenizer.
type regexSplit struct {
	re       *regexp.Regexp
	behavior splitBehavior
	invert   bool
}

func (rs regexSplit) split(in []word) []word {
	out := make([]word, 0, len(in)*4)
	for _, w := range in {
		s := w.text
		locs := rs.re.FindAllStringIndex(s, -1)
		// Pieces alternate between gaps and matches; "match" is flipped
		// when the pattern is inverted.
		type piece struct {
			start, end int
			match      bool
		}
		pieces := make([]piece, 0, 2*len(locs)+1)
		prev := 0
		for _, l := range locs {
			if l[0] == l[1] {
				continue
			}
			if l[0] > prev {
				pieces = append(pieces, piece{prev, l[0], rs.invert})
			}
			pieces = append(pieces, piece{l[0], l[1], !rs.invert})
			prev = l[1]
		}
		if prev < len(s) {
			pieces = append(pieces, piece{prev, len(s), rs.invert})
		}
		emit := func(start, end int) {
			out = append(out, word{text: s[start:end], atStart: w.atStart && start == 0})
		}
		switch rs.behavior {
		case splitRemoved:
			for _, p := range pieces {
				if !p.match {
					emit(p.start, p.end)
				}
			}
		case splitIsolated:
			for _, p := range pieces {
				emit(p.start, p.end)
			}
		case splitMergedWithPrevious:
			start := -1
			for i, p := range pieces {
				if start < 0 {
					start = p.start
				}
				if i+1 < len(pieces) && pieces[i+1].match {
					continue
				}
				emit(start, p.end)
				start = -1
			}
		case splitMergedWithNext:
			start := -1
			for i, p := range pieces {
				if start < 0 {
					start = p.start
				}
				if p.match && i+1 < len(pieces) {
					continue
				}
				emit(start, p.end)
				start = -1
			}
		}
	}
	return out
}

// whitespaceSplit splits on runs of Unicode whitespace, dropping them.
type whitespaceSplit struct{}

func (whitespaceSplit) split(in []word) []word {
	out := make([]word, 0, len(in)*4)
	for _, w := range in {
		s := w.text
		start := -1
		for i, r := range s {
			if unicode.IsSpace(r) {
				if start >= 0 {
					out = append(out, word{text: s[start:i], atStart: w.atStart && start == 0})
					start = -1
				}
			} else if start < 0 {
				start = i
			}
		}
		if start >= 0 {
			out = append(out, word{text: s[start:], atStart: w.atStart && start == 0})
		}
	}
	return out
}

// prependScheme says when Metaspace puts the replacement before a word.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspace replaces spaces with a visible marker (U+2581 for
// SentencePiece), optionally prepends it, and splits before each marker.
type metaspace struct {
	replacement string
	scheme      prependScheme
	splitWords  bool
}

func (m metaspace) split(in []word) []word {
	out := make([]word, 0, len(in))
	for _, w := range in {
		if w.text == "" {
			continue
		}
		s := strings.ReplaceAll(w.text, " ", m.replacement)
		if !strings.HasPrefix(s, m.replacement) &&
			(m.scheme == prependAlways || (m.scheme == prependFirst && w.atStart)) {
			s = m.replacement + s
		}
		if !m.splitWords {
			out = append(out, word{text: s, atStart: w.atStart})
			continue
		}
		for start := 0; start < len(s); {
			_, n := utf8.DecodeRuneInString(s[start:])
			end := len(s)
			if i := strings.Index(s[start+n:], m.replacement); i >= 0 {
				end = start + n + i
			}
			out = append(out, word{text: s[start:end], atStart: w.atStart && start == 0})
			start = end
		}
	}
	return out
}

// byteLevel is GPT-2's byte-level pre-tokenizer: optionally split with the
// GPT-2 pattern, then spell every byte as one printable character.
type byteLevel struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevel) split(in []word) []word {
	out := make([]word, 0, len(in))
	for _, w := range in {
		s := w.text
		if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		if !b.useRegex {
			out = append(out, word{text: byteLevelString(s), atStart: w.atStart})
			continue
		}
		for start := 0; start < len(s); {
			end := gpt2Next(s, start)
			out = append(out, word{text: byteLevelString(s[start:end]), atStart: w.atStart && start == 0})
			start = end
		}
	}
	return out
}

// gpt2Next returns the end of the GPT-2 pre-tokenizer match that starts at
// i, following the alternatives of
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// in order.
func gpt2Next(s string, i int) int {
	if s[i] == '\'' {
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(s[i+1:], c) {
				return i + 1 + len(c)
			}
		}
	}
	j := i
	if s[j] == ' ' {
		j++
	}
	if j < len(s) {
		r, _ := utf8.DecodeRuneInString(s[j:])
		var class func(rune) bool
		switch {
		case unicode.IsLetter(r):
			class = unicode.IsLetter
		case unicode.IsNumber(r):
			class = unicode.IsNumber
		case !unicode.IsSpace(r):
			class = isSymbol
		}
		if class != nil {
			return runEnd(s, j, class)
		}
	}
	// Whitespace: the run, less its last character when a non-space
	// follows (that character then starts the next match).
	end := runEnd(s, i, unicode.IsSpace)
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	return end
}

// runEnd returns the end of the run of characters in class starting at i.
func runEnd(s string, i int, class func(rune) bool) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !class(r) {
			return i
		}
		i += n
	}
	return i
}

// clipSplit is regexSplit over clipPattern with the Removed behavior,
// inverted (keep the matches), written out by hand: it is the hot loop of
// every CLIP prompt and several times faster than the regexp.
type clipSplit struct{}

func (clipSplit) split(in []word) []word {
	out := make([]word, 0, len(in)*8)
	for _, w := range in {
		s := w.text
		for i := 0; i < len(s); {
			end := clipMatchEnd(s, i)
			if end < 0 {
				_, n := utf8.DecodeRuneInString(s[i:])
				i += n
				continue
			}
			out = append(out, word{text: s[i:end], atStart: w.atStart && i == 0})
			i = end
		}
	}
	return out
}

// clipMatchEnd returns the end of the clipPattern match starting at i, or
// -1 when none starts there (whitespace), trying the alternatives in order.
func clipMatchEnd(s string, i int) int {
	switch s[i] {
	case '<':
		for _, sp := range [...]string{clipBOS, clipEOS} {
			if strings.HasPrefix(s[i:], sp) {
				return i + len(sp)
			}
		}
	case '\'':
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if strings.HasPrefix(s[i+1:], c) {
				return i + 1 + len(c)
			}
		}
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return runEnd(s, i, unicode.IsLetter)
	case unicode.IsNumber(r):
		return i + n
	case unicode.IsSpace(r):
		return -1
	}
	return runEnd(s, i, isSymbol)
}

func isSymbol(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r)
}
