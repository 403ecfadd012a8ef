//go:build !unix

package ort

import "errors"

// freeDiskBytes is unknown here; a full disk shows when writing fails.
func freeDiskBytes(string) (int64, error) {
	return 0, errors.New("free space unknown on this system")
}
