package hub

import (
	"fmt"
	"net/url"
	"strings"
)

// Scheme is the prefix that marks a Hub reference in a --model value.
const Scheme = "hf:"

// DefaultRevision is the revision used when a reference names none.
const DefaultRevision = "main"

// Ref names a folder of a model repository at a revision.
type Ref struct {
	// Repo is "ORG/NAME".
	Repo string
	// Revision is a branch, tag or commit hash; "" means DefaultRevision.
	Revision string
	// Subfolder is a slash-separated folder inside the repository, or "".
	Subfolder string
}

// ParseRef reads "hf:ORG/NAME[@REV][/SUBFOLDER]" or "ORG/NAME[@REV]"
// (the subfolder form needs the hf: prefix only to be told apart from a
// local path; ParseRef accepts it either way). REV ends at the next "/" and
// may be percent-escaped. It returns an error wrapping ErrInvalidRef.
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("%w %q: %s", ErrInvalidRef, s, why)
	}
	rest := strings.TrimPrefix(s, Scheme)
	org, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("want ORG/NAME")
	}
	var name, rev, sub string
	if i := strings.IndexAny(rest, "@/"); i < 0 {
		name = rest
	} else {
		name = rest[:i]
		if rest[i] == '@' {
			rev, sub, _ = strings.Cut(rest[i+1:], "/")
			if rev == "" {
				return bad("empty revision after @")
			}
			u, err := url.PathUnescape(rev)
			if err != nil {
				return bad("revision: " + err.Error())
			}
			rev = u
		} else {
			sub = rest[i+1:]
		}
	}
	for _, part := range []string{org, name} {
		if err := checkRepoPart(part); err != nil {
			return bad(err.Error())
		}
	}
	if rev != "" {
		if err := checkRelPath(rev); err != nil {
			return bad("revision: " + err.Error())
		}
	}
	sub = strings.TrimSuffix(sub, "/")
	if sub != "" {
		if err := checkRelPath(sub); err != nil {
			return bad("subfolder: " + err.Error())
		}
	}
	return Ref{Repo: org + "/" + name, Revision: rev, Subfolder: sub}, nil
}

// String returns the reference in the form ParseRef reads, with the hf:
// prefix.
func (r Ref) String() string {
	s := Scheme + r.Repo
	if r.Revision != "" {
		s += "@" + url.PathEscape(r.Revision)
	}
	if r.Subfolder != "" {
		s += "/" + r.Subfolder
	}
	return s
}

// revision returns the revision, defaulted.
func (r Ref) revision() string {
	if r.Revision == "" {
		return DefaultRevision
	}
	return r.Revision
}

// validate checks a Ref built by hand rather than by ParseRef.
func (r Ref) validate() error {
	_, err := ParseRef(r.String())
	return err
}

// folderName is the repository's folder in the cache: models--ORG--NAME.
func (r Ref) folderName() string {
	return "models--" + strings.ReplaceAll(r.Repo, "/", "--")
}

// checkRepoPart applies the Hub's rules for an owner or repository name:
// letters, digits, "-", "_" and ".", not starting or ending with "-" or
// ".", without "--" or "..", at most 96 characters.
func checkRepoPart(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty name")
	case len(p) > 96:
		return fmt.Errorf("name %q longer than 96 characters", p)
	case strings.Contains(p, "--") || strings.Contains(p, ".."):
		return fmt.Errorf("name %q contains -- or ..", p)
	case strings.IndexAny(p[:1]+p[len(p)-1:], "-.") >= 0:
		return fmt.Errorf("name %q starts or ends with - or .", p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("name %q has character %q", p, c)
		}
	}
	return nil
}
