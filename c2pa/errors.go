package c2pa

import (
	"errors"
	"fmt"
)

// ErrNoManifest is returned by Verify and Read when the file holds no C2PA
// manifest store (no caBX chunk in a PNG, no JUMBF APP11 segment in a JPEG).
var ErrNoManifest = errors.New("c2pa: no C2PA manifest")

// ErrUnsupportedFormat is returned for files that are neither PNG nor JPEG.
var ErrUnsupportedFormat = errors.New("c2pa: not a PNG or JPEG file")

// ErrKey is returned by the Signer constructors for a key or certificate
// chain that cannot sign C2PA claims with ES256: a key that is not ECDSA
// P-256, a chain whose first certificate is not the key's, an unparsable
// PEM block.
var ErrKey = errors.New("c2pa: unusable signing key")

// errJUMBF marks a malformed JUMBF box tree; Verify reports it as an
// invalid manifest (claim.malformed), not as an error.
var errJUMBF = errors.New("malformed JUMBF")

// FormatError reports a PNG or JPEG file that cannot be parsed (truncated,
// bad chunk lengths, no image data): the file itself is broken, whatever
// its manifest says.
type FormatError struct {
	Format string // "png" or "jpeg"
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("c2pa: invalid %s: %s", e.Format, e.Msg)
}

func formatErr(format, msg string, args ...any) error {
	return &FormatError{Format: format, Msg: fmt.Sprintf(msg, args...)}
}
