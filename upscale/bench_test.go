package upscale_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/upscale"
)

// BenchmarkUpscale512 upscales a 512×512 picture to 2048×2048 with a
// random-weight ×4 fixed-size export (128×128 → 512×512: three 3×3
// convolutions of 32 features, then DepthToSpace), in 25 tiles of 128
// with the default overlap of 16, on one ONNX Runtime thread. It reports
// the process's peak RSS (VmHWM), so run it alone:
//
//	go test ./upscale -run '^$' -bench Upscale512 -benchtime 3x
func BenchmarkUpscale512(b *testing.B) {
	testort.Init(b)
	path := filepath.Join(b.TempDir(), "model.onnx")
	if err := upscaletest.Write(path, upscaletest.Config{Scale: 4, Side: 128, Features: 32, Layers: 3}, 1); err != nil {
		b.Fatal(err)
	}
	u, err := upscale.Open(context.Background(), path, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	const side = 512
	x := make([]float32, 3*side*side)
	for i := range x {
		x[i] = float32(i%251) / 250
	}
	tiles := 0
	o := upscale.RunOptions{Progress: func(p upscale.Progress) { tiles = p.Total }}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := u.UpscaleCHW(context.Background(), x, side, side, o)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != 3*4*side*4*side {
			b.Fatalf("%d values", len(out))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tiles), "tiles")
	if kib := vmHWM(); kib > 0 {
		b.ReportMetric(float64(kib)/1024, "peak-RSS-MiB")
	}
}

// vmHWM returns the process's peak resident set in KiB (0 if unknown).
func vmHWM() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kib, _ := strconv.ParseInt(f[0], 10, 64)
				return kib
			}
		}
	}
	return 0
}
