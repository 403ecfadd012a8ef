//go:build linux

package schedulers

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time the calling OS thread has used, so that
// benchmarks on a shared machine can report work done rather than wall time
// spent waiting for a core. Callers lock the goroutine to its thread.
func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lockThread()   { runtime.LockOSThread() }
func unlockThread() { runtime.UnlockOSThread() }
