//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package ortlib

import "context"

// lockDir does nothing where flock is unavailable: concurrent installs then
// both download, and the atomic rename still leaves one whole library.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	return func() {}, ctx.Err()
}
