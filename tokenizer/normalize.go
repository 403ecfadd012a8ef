package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites the text between added tokens before it is split.
type normalizer interface {
	normalize(s string) string
}

type unicodeForm struct{ form norm.Form }

func (u unicodeForm) normalize(s string) string { return u.form.String(s) }

// lowercase maps each character to its full lowercase, character by
// character, as Rust's char::to_lowercase does: U+0130 becomes "i̇" and
// there is no final-sigma rule.
type lowercase struct{}

func (lowercase) normalize(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '\u0130' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// replace substitutes every match of a literal or a regular expression.
type replace struct {
	literal string
	re      *regexp.Regexp
	content string
}

func (r replace) normalize(s string) string {
	if r.re != nil {
		return r.re.ReplaceAllLiteralString(s, r.content)
	}
	return strings.ReplaceAll(s, r.literal, r.content)
}

// strip removes Unicode whitespace from either end.
type strip struct{ left, right bool }

func (st strip) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// prepend puts a fixed string before non-empty text.
type prepend struct{ prefix string }

func (p prepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

// whitespaceClass lists the characters with the Unicode White_Space
// property, which is what \s means in the Oniguruma patterns of
// tokenizer.json files; Go's \s is ASCII only.
const whitespaceClass = `\t\n\v\f\r \x{85}\p{Z}`

// compileOnig compiles an Oniguruma pattern from tokenizer.json with Go's
// regexp, mapping \s and \S to their Unicode meaning. Constructs Go lacks
// (look-around, back-references) are an error.
func compileOnig(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			next := pattern[i+1]
			i++
			switch {
			case next == 's' && inClass:
				b.WriteString(whitespaceClass)
			case next == 's':
				b.WriteString("[" + whitespaceClass + "]")
			case next == 'S' && !inClass:
				b.WriteString("[^" + whitespaceClass + "]")
			case next == 'S':
				return nil, fmt.Errorf("\\S inside a character class is not supported")
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A leading ']' or '^]' is a literal, not the end of the class.
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}

// collapseSpace replaces each run of Unicode whitespace with one space: the
// Replace(\s+, " ") normalizer of CLIP without the regexp.
type collapseSpace struct{}

func (collapseSpace) normalize(s string) string {
	clean := true
	for i, r := range s {
		if unicode.IsSpace(r) && (r != ' ' || (i+1 < len(s) && s[i+1] == ' ')) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}
