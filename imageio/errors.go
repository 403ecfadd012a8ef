package imageio

import (
	"errors"
	"fmt"
)

// ErrUnsupported is returned (wrapped) by the readers for well-formed files
// that use a feature this package does not handle, such as a .npy file of
// float64 values or in Fortran order.
var ErrUnsupported = errors.New("imageio: unsupported")

// ErrShape is returned (wrapped) by the tensor conversions when a shape
// does not fit the data or the layout asked for.
var ErrShape = errors.New("imageio: bad shape")

// FormatError reports a file that is not valid in its format.
type FormatError struct {
	Format string // "png" or "npy"
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("imageio: invalid %s: %s", e.Format, e.Msg)
}

func formatErr(format, msg string, args ...any) error {
	return &FormatError{Format: format, Msg: fmt.Sprintf(msg, args...)}
}
