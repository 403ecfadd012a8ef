//go:build !linux

package schedulers

import "time"

// threadCPUTime is unavailable here; benchmarks then report 0 cpu-ns/op.
func threadCPUTime() time.Duration { return 0 }

func lockThread()   {}
func unlockThread() {}
