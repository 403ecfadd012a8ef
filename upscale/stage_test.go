package upscale_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/upscale"
)

var testStage = upscaletest.Stage{LowRes: 8, Scale: 4, Steps: 3, NoiseLevel: 20, MaxNoiseLevel: 250}

// openStage writes a random-weight stage and opens it with one thread.
func openStage(t *testing.T, cfg upscaletest.Stage) *upscale.Upscaler {
	t.Helper()
	testort.Init(t)
	dir := filepath.Join(t.TempDir(), "sr")
	if err := upscaletest.WriteStage(dir, cfg, 5); err != nil {
		t.Fatal(err)
	}
	u, err := upscale.Open(context.Background(), dir, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func TestStageOpen(t *testing.T) {
	u := openStage(t, testStage)
	h, w := u.FixedSize()
	cfg, ok := u.Stage()
	if u.Scale() != 4 || h != 8 || w != 8 || !ok || cfg != (upscale.StageConfig{LowResSize: 8, Scale: 4, Steps: 3, NoiseLevel: 20, MaxNoiseLevel: 250}) {
		t.Fatalf("scale %d, size %dx%d, stage %+v %v; want 4, 8x8 and the model_index settings", u.Scale(), w, h, cfg, ok)
	}
}

func TestStageRun(t *testing.T) {
	u := openStage(t, testStage)
	in := imageio.RGBTensor(gradient(8, 8))
	run := func(o upscale.RunOptions) []float32 {
		t.Helper()
		steps := 0
		o.Progress = func(p upscale.Progress) { steps = p.Total }
		out, err := u.UpscaleCHW(context.Background(), in, 8, 8, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3*32*32 {
			t.Fatalf("got %d values, want 3x32x32", len(out))
		}
		want := testStage.Steps
		if o.Steps != 0 {
			want = o.Steps
		}
		if steps != want {
			t.Errorf("%d steps reported, want %d", steps, want)
		}
		return out
	}
	first := run(upscale.RunOptions{Seed: 1})
	// The last DDIM step (ᾱ = 1) returns the predicted picture, clipped
	// to [-1, 1]: the output lies in [0, 1].
	for i, v := range first {
		if v < 0 || v > 1 {
			t.Fatalf("value %d is %v, want it in [0, 1]", i, v)
		}
	}
	level := 200
	for _, tc := range []struct {
		name string
		o    upscale.RunOptions
		same bool
	}{
		{"same seed", upscale.RunOptions{Seed: 1}, true},
		{"other seed", upscale.RunOptions{Seed: 2}, false},
		{"other noise level", upscale.RunOptions{Seed: 1, NoiseLevel: &level}, false},
		{"other steps", upscale.RunOptions{Seed: 1, Steps: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(tc.o)
			diff := 0
			for i := range got {
				if got[i] != first[i] {
					diff++
				}
			}
			if (diff == 0) != tc.same {
				t.Errorf("%d of %d values differ from the first run; want them the same: %v", diff, len(got), tc.same)
			}
		})
	}
}

func TestStageBadInput(t *testing.T) {
	u := openStage(t, testStage)
	bad, over := -1, 251
	for _, tc := range []struct {
		name string
		h, w int
		o    upscale.RunOptions
		want error
	}{
		{"other size", 16, 16, upscale.RunOptions{}, upscale.ErrInputSize},
		{"not square", 8, 9, upscale.RunOptions{}, upscale.ErrInputSize},
		{"tiles", 8, 8, upscale.RunOptions{Tile: 4}, upscale.ErrOptions},
		{"negative noise level", 8, 8, upscale.RunOptions{NoiseLevel: &bad}, upscale.ErrOptions},
		{"noise level over the maximum", 8, 8, upscale.RunOptions{NoiseLevel: &over}, upscale.ErrOptions},
		{"negative steps", 8, 8, upscale.RunOptions{Steps: -2}, upscale.ErrOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := u.UpscaleCHW(context.Background(), make([]float32, 3*tc.h*tc.w), tc.h, tc.w, tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStageBadFolder(t *testing.T) {
	testort.Init(t)
	for _, tc := range []struct {
		name  string
		index string
	}{
		{"no settings", `{"_class_name": "ImagegenSuperResolutionPipeline"}`},
		{"scale 1", `{"_class_name": "ImagegenSuperResolutionPipeline", "imagegen_super_resolution": {"low_res_size": 8, "scale": 1, "steps": 2, "max_noise_level": 10}}`},
		{"level over the maximum", `{"_class_name": "ImagegenSuperResolutionPipeline", "imagegen_super_resolution": {"low_res_size": 8, "scale": 4, "steps": 2, "noise_level": 20, "max_noise_level": 10}}`},
		{"sizes unlike the denoiser's", `{"_class_name": "ImagegenSuperResolutionPipeline", "imagegen_super_resolution": {"low_res_size": 16, "scale": 4, "steps": 2, "max_noise_level": 10}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sr")
			if err := upscaletest.WriteStage(dir, testStage, 5); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "model_index.json"), []byte(tc.index), 0o644); err != nil {
				t.Fatal(err)
			}
			u, err := upscale.Open(context.Background(), dir, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
			if err == nil {
				u.Close()
			}
			if !errors.Is(err, upscale.ErrNotUpscaler) {
				t.Fatalf("got %v, want ErrNotUpscaler", err)
			}
		})
	}
}
