package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/familytest"
)

// TestFlowEncodeDecodeCommands runs encode and decode on a tiny flow:
// the round trip gives the pictures back, and bad latents, prompts and
// temperatures are clear errors that write nothing.
func TestFlowEncodeDecodeCommands(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "flow")
	if err := familytest.WriteFlow(model, 1); err != nil {
		t.Fatal(err)
	}
	a, b := heldOutPNG(t, dir, 0), heldOutPNG(t, dir, 1)
	z := filepath.Join(dir, "z.npy")
	if _, err := builtinCLI(t, "encode", "--model", model, a, b, "-o", z); err != nil {
		t.Fatal(err)
	}
	shape, _, err := imageio.LoadNPY(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 2 || shape[1] != 3*32*32 {
		t.Fatalf("latents shape %v, want [2 3072]", shape)
	}
	out := filepath.Join(dir, "back.npy")
	if _, err := builtinCLI(t, "decode", "--model", model, z, "-o", out); err != nil {
		t.Fatal(err)
	}
	_, got, err := imageio.LoadNPY(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, path := range []string{a, b} {
		img, err := imageio.LoadImage(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := imageio.ImageTensor(img, 32, 32) // CHW in [-1, 1]
		if err != nil {
			t.Fatal(err)
		}
		for c := range 3 {
			for p := range 32 * 32 {
				w := (float64(want[c*1024+p]) + 1) / 2
				g := float64(got[(i*1024+p)*3+c])
				if math.Abs(g-w) > 1e-4 {
					t.Fatalf("picture %d channel %d pixel %d: %v after the round trip, want %v", i, c, p, g, w)
				}
			}
		}
	}

	wrongShape := filepath.Join(dir, "short.npy")
	imageio.SaveNPY(wrongShape, []int{1, 100}, make([]float32, 100))
	ints := filepath.Join(dir, "ints.npy")
	imageio.SaveNPYInt64(ints, []int{1, 3072}, make([]int64, 3072))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong shape", []string{"decode", "--model", model, wrongShape}, "decodes float32 latents [N, 3072]"},
		{"int64 latents", []string{"decode", "--model", model, ints}, "npy dtype"},
		{"prompt count", []string{"decode", "--model", model, z, "--prompt", "a red circle", "--prompt", "a blue star", "--prompt", "a star"}, "3 prompts for 2 latents"},
		{"zero temperature", []string{"generate", "--model", model, "--temperature", "0", "a red circle"}, "--temperature must be a finite number > 0"},
		{"negative temperature", []string{"generate", "--model", model, "--temperature=-0.5", "a red circle"}, "--temperature must be a finite number > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := filepath.Join(dir, "bad-"+strings.ReplaceAll(tc.name, " ", "-")+".png")
			_, err := builtinCLI(t, append(tc.args, "-o", o)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if _, err := os.Stat(o); err == nil {
				t.Errorf("%s was written despite the error", o)
			}
		})
	}
}
