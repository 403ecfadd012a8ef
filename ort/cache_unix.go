//go:build unix

package ort

import "syscall"

// freeDiskBytes returns the bytes an unprivileged user may still write
// under dir.
func freeDiskBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
