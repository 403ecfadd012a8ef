package hub

import (
	"fmt"
	"strings"
)

// Filter selects repository files by include and exclude patterns; the
// pattern language is described in the package documentation.
type Filter struct {
	Include []string
	Exclude []string
}

// Validate reports the first malformed pattern (an unclosed "[").
func (f Filter) Validate() error {
	for _, p := range append(append([]string(nil), f.Include...), f.Exclude...) {
		if _, err := globMatch(p, ""); err != nil {
			return err
		}
	}
	return nil
}

// Match reports whether name is selected. Malformed patterns match nothing;
// call Validate first to report them.
func (f Filter) Match(name string) bool {
	if len(f.Include) > 0 && !anyMatch(f.Include, name) {
		return false
	}
	return !anyMatch(f.Exclude, name)
}

func anyMatch(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := globMatch(p, name); ok {
			return true
		}
	}
	return false
}

// globMatch matches name against an fnmatch-style pattern in which "*"
// crosses "/". A trailing "/" selects a whole folder, as in huggingface_hub.
func globMatch(pattern, name string) (bool, error) {
	if strings.HasSuffix(pattern, "/") {
		pattern += "*"
	}
	// Iterative matcher with one backtrack point for the last "*": linear
	// in practice and never exponential.
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				starP, starN = p, n
				continue
			case '?':
				p++
				n++
				continue
			case '[':
				ok, width, err := matchClass(pattern[p:], name[n])
				if err != nil {
					return false, err
				}
				if ok {
					p += width
					n++
					continue
				}
			default:
				if c == name[n] {
					p++
					n++
					continue
				}
			}
		}
		if starP < 0 {
			return false, checkRest(pattern[p:])
		}
		starN++
		p, n = starP, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	if p < len(pattern) {
		return false, checkRest(pattern[p:])
	}
	return true, nil
}

// checkRest reports an unclosed "[" in the unread part of a pattern, so a
// typo is an error whatever the name.
func checkRest(rest string) error {
	for i := 0; i < len(rest); i++ {
		if rest[i] == '[' {
			_, w, err := matchClass(rest[i:], 0)
			if err != nil {
				return err
			}
			i += w - 1
		}
	}
	return nil
}

// matchClass matches c against the set that opens class ("[...]") and
// returns the width of the set in the pattern.
func matchClass(class string, c byte) (matched bool, width int, err error) {
	i := 1
	negate := false
	if i < len(class) && (class[i] == '!' || class[i] == '^') {
		negate = true
		i++
	}
	first := true
	for ; i < len(class); i++ {
		if class[i] == ']' && !first {
			return matched != negate, i + 1, nil
		}
		first = false
		lo, hi := class[i], class[i]
		if i+2 < len(class) && class[i+1] == '-' && class[i+2] != ']' {
			hi = class[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return false, 0, fmt.Errorf("hub: glob %q: unclosed [", class)
}
