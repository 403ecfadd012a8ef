package hub

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is; the returned errors wrap
// them with the repository, revision or file concerned.
var (
	// ErrInvalidRef is returned by ParseRef for a malformed reference.
	ErrInvalidRef = errors.New("hub: invalid reference")
	// ErrUnauthorized is returned for HTTP 401 and 403: the repository is
	// private or gated, or the token is wrong.
	ErrUnauthorized = errors.New("hub: unauthorized")
	// ErrRepoNotFound is returned when the Hub does not know the repository.
	ErrRepoNotFound = errors.New("hub: repository not found")
	// ErrRevisionNotFound is returned when the repository has no such
	// branch, tag or commit.
	ErrRevisionNotFound = errors.New("hub: revision not found")
	// ErrEntryNotFound is returned when a listed file cannot be downloaded
	// (HTTP 404 on its resolve address) or a subfolder is absent.
	ErrEntryNotFound = errors.New("hub: file not found")
	// ErrNotCached is returned in offline mode when the cache lacks the
	// revision asked for.
	ErrNotCached = errors.New("hub: not in the local cache")
	// ErrChecksum is returned when a downloaded file's size or hash differs
	// from what the server announced; the partial file is deleted.
	ErrChecksum = errors.New("hub: checksum mismatch")
	// ErrUnsafePath is returned when a name given by the server (file name,
	// ETag, commit hash) could escape the cache folder.
	ErrUnsafePath = errors.New("hub: unsafe name from server")
	// ErrNoMatch is returned by Pull when the include and exclude patterns
	// leave no file to pull.
	ErrNoMatch = errors.New("hub: no file matches the patterns")
)

// StatusError is an unexpected HTTP answer. It wraps one of the sentinel
// errors above when the status says which (401/403 ErrUnauthorized, 404 one
// of the not-found errors).
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	// Code and Message are the Hub's X-Error-Code and X-Error-Message
	// headers, when present.
	Code    string
	Message string
	// Hint explains what to do, for the errors users can fix.
	Hint string
	kind error
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("hub: %s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// Unwrap returns the sentinel error the status maps to, or nil.
func (e *StatusError) Unwrap() error { return e.kind }

// transient reports whether a retry may succeed.
func (e *StatusError) transient() bool {
	return e.StatusCode >= 500 || e.StatusCode == 429 || e.StatusCode == 408
}
