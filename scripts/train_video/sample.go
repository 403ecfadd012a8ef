package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// sampleHeldOut generates one clip for each of held-out moving-shapes
// prompts first to first+n−1 (seed = the prompt's number) with the video
// model in modelDir at its default settings and frames frames, writing
// DIR/NNN.npy and DIR/NNN.txt (what scripts/check_video -dir reads; two
// processes can share a folder), and prints the median seconds per clip
// and the process's peak RSS.
func sampleHeldOut(ctx context.Context, o options, modelDir, dir string, first, n, frames int) error {
	p, err := pipeline.Load(ctx, modelDir, pipeline.Options{Session: ort.Options{IntraOpThreads: o.threads}})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	prompts := shapes.HeldOutMotionPrompts(first + n)
	var secs []float64
	for i := first; i < first+n; i++ {
		prompt := prompts[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		res, err := p.Generate(ctx, pipeline.Request{Prompts: []string{prompt}, Seed: uint64(i), Frames: frames})
		if err != nil {
			return fmt.Errorf("prompt %d %q: %w", i, prompt, err)
		}
		secs = append(secs, time.Since(start).Seconds())
		clip := videoio.Clip{Frames: res.Images, F: res.Frames, H: res.H, W: res.W, FPS: res.FPS}
		if err := videoio.Write(filepath.Join(dir, fmt.Sprintf("%03d.npy", i)), clip); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.txt", i)), []byte(prompt+"\n"), 0o644); err != nil {
			return err
		}
		if k := i - first + 1; k%25 == 0 {
			fmt.Printf("sample: %d of %d clips\n", k, n)
		}
	}
	slices.Sort(secs)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("sample: %d clips of %d frames, median %.2f s a clip (min %.2f, max %.2f), peak RSS %.0f MiB\n",
		len(secs), frames, secs[len(secs)/2], secs[0], secs[len(secs)-1], float64(ru.Maxrss)/1024)
	return nil
}
