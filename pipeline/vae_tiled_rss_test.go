package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
)

// TestVAEDecodeRSS measures one decode of a random SD 1.5-size VAE
// decoder (built by onnx_export) in its own process, for the README's
// tiled-VAE figures. It runs only when IMAGEGEN_VAE_RSS=SIZE[:TILE] is set
// (TILE 0 = whole picture) and IMAGEGEN_VAE_RSS_DIR names a folder to keep
// the 200 MB decoder in; run one configuration per process, since peak RSS
// (VmHWM) is per process:
//
//	IMAGEGEN_VAE_RSS=1024:0 IMAGEGEN_VAE_RSS_DIR=/tmp/vae15 go test ./pipeline -run TestVAEDecodeRSS -v
func TestVAEDecodeRSS(t *testing.T) {
	spec := os.Getenv("IMAGEGEN_VAE_RSS")
	dir := os.Getenv("IMAGEGEN_VAE_RSS_DIR")
	if spec == "" || dir == "" {
		t.Skip("set IMAGEGEN_VAE_RSS=SIZE[:TILE] and IMAGEGEN_VAE_RSS_DIR to measure")
	}
	sizeStr, tileStr, _ := strings.Cut(spec, ":")
	size, err := strconv.Atoi(sizeStr)
	if err != nil {
		t.Fatal(err)
	}
	tile, _ := strconv.Atoi(tileStr)
	testort.Init(t)
	cfg := onnxexport.SD15().VAE
	path := filepath.Join(dir, "vae_decoder", "model.onnx")
	if _, err := os.Stat(path); err != nil {
		m, err := onnxexport.NewVAEDecoderGraph(cfg, 1).Build()
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := onnxexport.Save(path, m, onnxexport.WithExternalData()); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := openSession(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	p := &diffusionPipeline{family: FamilySD, vaeDec: sess, vaeScale: 8,
		vae:  vaeConfig{ScalingFactor: 0.18215, BlockOutChannels: []int{128, 256, 512, 512}},
		opts: Options{VAETile: tile, VAEMemoryBudget: 1 << 62}}
	lh := size / 8
	r := &run{q: &resolved{}, channels: 4, lh: lh, lw: lh, batch: 1, latents: make([]float32, 4*lh*lh)}
	rng.New(0).Randn(r.latents)
	before := vmHWM(t)
	start := time.Now()
	res := &Result{}
	if err := p.decode(context.Background(), r, res); err != nil {
		t.Fatal(err)
	}
	t.Logf("SD 1.5-size VAE decode %dx%d, tile %d: %.1f s, peak RSS %.0f MiB (%.0f MiB before the decode)",
		size, size, tile, time.Since(start).Seconds(), float64(vmHWM(t))/1024, float64(before)/1024)
}

// vmHWM returns the process's peak resident set in KiB.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			v, _ := strconv.ParseInt(f[0], 10, 64)
			return v
		}
	}
	return 0
}
