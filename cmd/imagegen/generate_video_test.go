package main

import (
	"errors"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/videoio"
)

// TestGenerateSVDClip runs image-to-video on a tiny SVD export and writes
// the clip as GIF and .npy, plus its frames as PNGs.
func TestGenerateSVDClip(t *testing.T) {
	testort.Init(t)
	model := filepath.Join(t.TempDir(), "svd")
	if err := familytest.WriteSVD(model, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.png")
	writeTestPNG(t, first, familytest.VideoSize)
	F, S := familytest.SVDFrames, familytest.VideoSize

	gifOut := filepath.Join(dir, "clip.gif")
	framesDir := filepath.Join(dir, "frames")
	if _, err := runGenerateCLI(t, "generate", "--model", model, "--init-image", first, "--steps", "2", "--fps", "6",
		"--frames-dir", framesDir, "-o", gifOut); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(gifOut)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != F || g.Config.Width != S || g.Config.Height != S {
		t.Errorf("GIF has %d frames of %dx%d, want %d of %dx%d", len(g.Image), g.Config.Width, g.Config.Height, F, S, S)
	}
	for i := range F {
		if !exists(filepath.Join(framesDir, "frame_000"+itoa(i)+".png")) {
			t.Errorf("--frames-dir: frame %d missing", i)
		}
	}

	npyOut := filepath.Join(dir, "clip.npy")
	if _, err := runGenerateCLI(t, "generate", "--model", model, "--init-image", first, "--steps", "2", "--fps", "6",
		"--decode-chunk", "3", "-o", npyOut); err != nil {
		t.Fatal(err)
	}
	clip, err := videoio.LoadNPY(npyOut)
	if err != nil {
		t.Fatal(err)
	}
	if clip.F != F || clip.H != S || clip.W != S {
		t.Fatalf(".npy clip is %d frames of %dx%d, want %d of %dx%d", clip.F, clip.W, clip.H, F, S, S)
	}
	// The PNG frames are the .npy frames in bytes (same seed, and chunked
	// decoding does not change them).
	for i := range F {
		img, err := imageio.LoadImage(filepath.Join(framesDir, "frame_000"+itoa(i)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		want := clip.Frame(i)
		for y := range S {
			for x := range S {
				r, _, _, _ := img.At(x, y).RGBA()
				wr, _, _, _ := want.At(x, y).RGBA()
				if r>>8 != wr>>8 {
					t.Fatalf("frame %d (%d,%d): PNG red %d, .npy red %d", i, x, y, r>>8, wr>>8)
				}
			}
		}
	}
}

// TestGenerateVideoBadOutput checks that outputs and requests a clip
// cannot take are refused before anything is generated or written.
func TestGenerateVideoBadOutput(t *testing.T) {
	testort.Init(t)
	model := filepath.Join(t.TempDir(), "svd")
	if err := familytest.WriteSVD(model, 1); err != nil {
		t.Fatal(err)
	}
	gan := filepath.Join(t.TempDir(), "gan")
	if err := familytest.WriteGAN(gan, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.png")
	writeTestPNG(t, first, familytest.VideoSize)
	wide := filepath.Join(dir, "wide.png")
	writeTestPNG(t, wide, 48)
	missing := filepath.Join(dir, "no-such-model")
	up := filepath.Join(dir, "x2.onnx")
	if err := upscaletest.Write(up, upscaletest.Config{Scale: 2, Nearest: true}, 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		out  string
		want string
	}{
		// The model does not exist: the output is refused before it is opened.
		{"jpg with --frames", []string{"--model", missing, "--frames", "16", "a cat"}, "clip.jpg", "cannot hold video"},
		{"jpg for a video model", []string{"--model", model, "--init-image", first}, "clip.jpg", "want a .png or .npy"},
		{"gif for a picture model", []string{"--model", gan, "a red circle"}, "pic.gif", "makes pictures"},
		{"--frames for a picture model", []string{"--model", gan, "--frames", "4", "a red circle"}, "pic.png", "apply to video models"},
		{"too many frames", []string{"--model", model, "--init-image", first, "--frames", "9"}, "clip.gif", "exactly 4 frames"},
		{"init image of another size", []string{"--model", model, "--init-image", wide, "-W", "32", "-H", "32"}, "clip.gif", "init image is 48x48"},
		{"no init image", []string{"--model", model, "--steps", "1", ""}, "clip.gif", "init image"},
		{"--upscale for a video model", []string{"--model", model, "--init-image", first, "--upscale", up}, "clip.gif", "--upscale enlarges pictures"},
		{"zero fps", []string{"--model", model, "--init-image", first, "--fps", "0"}, "clip.gif", "--fps must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.out)
			args := append([]string{"generate", "-o", out}, tc.args...)
			_, err := runGenerateCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
			if exists(out) {
				t.Errorf("%s was written", out)
			}
		})
	}
	_, err := runGenerateCLI(t, "generate", "--model", missing, "--frames", "4", "-o", filepath.Join(dir, "c.jpg"), "x")
	if !errors.Is(err, videoio.ErrNotVideo) {
		t.Errorf("got %v, want videoio.ErrNotVideo", err)
	}
}

// TestGenerateAnimateDiffClip runs text-to-video on a tiny AnimateDiff
// export built around the conformance SD 1.x checkpoint.
func TestGenerateAnimateDiffClip(t *testing.T) {
	testort.Init(t)
	sd := conformance.Dir(t, "sd1-tiny")
	model := filepath.Join(t.TempDir(), "animatediff")
	if err := familytest.WriteAnimateDiff(model, sd, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "clip.npy")
	if _, err := runGenerateCLI(t, "generate", "--model", model, "--frames", "3", "--fps", "8", "--steps", "2", "-o", out, "a red ball"); err != nil {
		t.Fatal(err)
	}
	clip, err := videoio.LoadNPY(out)
	if err != nil {
		t.Fatal(err)
	}
	if clip.F != 3 || clip.H != 32 || clip.W != 32 {
		t.Errorf(".npy clip is %d frames of %dx%d, want 3 of 32x32", clip.F, clip.W, clip.H)
	}
}

// TestGenerateClipLatentsFail: when --save-latents cannot be written,
// neither the clip nor the --frames-dir frames are left behind.
func TestGenerateClipLatentsFail(t *testing.T) {
	testort.Init(t)
	model := filepath.Join(t.TempDir(), "svd")
	if err := familytest.WriteSVD(model, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.png")
	writeTestPNG(t, first, familytest.VideoSize)
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, framesDir := filepath.Join(dir, "clip.gif"), filepath.Join(dir, "frames")
	_, err := runGenerateCLI(t, "generate", "--model", model, "--init-image", first, "--steps", "1",
		"--frames-dir", framesDir, "--save-latents", filepath.Join(blocker, "lat.npy"), "-o", out)
	if err == nil {
		t.Fatal("latents under a file: no error")
	}
	if exists(out) || exists(framesDir) {
		t.Errorf("after the failure: clip written %v, frames folder written %v", exists(out), exists(framesDir))
	}
}
