package builtin_test

import (
	"context"
	"image"
	"testing"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/upscale"
)

// The stage guard's bounds, below the README's 300-scene figures (PSNR
// 30.45 dB against the 128x128 renders, 30.60 on these 16 scenes; bicubic
// 30.01) to leave room for the noise of 16 scenes.
const (
	srTestScenes = 16
	srMinPSNR    = 29.0
)

// TestShippedSR guards the shipped stage: the renderer's 32x32 pictures
// of held-out scenes, enlarged by builtin:sr, are close to the renderer's
// 128x128 pictures, and the shapes checker reads in them what it reads
// in the 32x32 ones.
func TestShippedSR(t *testing.T) {
	testort.Init(t)
	m, err := builtin.ByName("sr")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := m.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u, err := upscale.Open(context.Background(), dir, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var low, high []shapes.Case
	psnr := 0.0
	for i := range srTestScenes {
		lo, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		hi, err := shapes.Dataset{Split: shapes.HeldOut, Size: 128}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		up, err := u.Upscale(context.Background(), lo.Image, upscale.RunOptions{Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		if up.Bounds() != image.Rect(0, 0, 128, 128) {
			t.Fatalf("scene %d: got %v, want 128x128", i, up.Bounds())
		}
		p, err := imageio.PSNR(up, hi.Image)
		if err != nil {
			t.Fatal(err)
		}
		psnr += p / srTestScenes
		low = append(low, shapes.Case{Image: lo.Image, Prompt: lo.Caption})
		high = append(high, shapes.Case{Image: up, Prompt: lo.Caption})
	}
	if psnr < srMinPSNR {
		t.Errorf("mean PSNR %.2f dB against the 128x128 renders, want at least %.1f", psnr, srMinPSNR)
	}
	before, err := shapes.Evaluate(low)
	if err != nil {
		t.Fatal(err)
	}
	after, err := shapes.Evaluate(high)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		name          string
		before, after float64
	}{
		{"color", before.Color.Rate(), after.Color.Rate()},
		{"shape", before.Shape.Rate(), after.Shape.Rate()},
		{"position", before.Position.Rate(), after.Position.Rate()},
	} {
		if a.after < a.before-0.1 {
			t.Errorf("%s: %.1f%% of the enlarged pictures against %.1f%% of the 32x32 ones", a.name, 100*a.after, 100*a.before)
		}
	}
}
