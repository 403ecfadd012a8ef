package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/familytest"
	"github.com/imagegen/imagegen/shapes"
)

// heldOutPNG writes held-out picture i of the shapes dataset as a PNG.
func heldOutPNG(t *testing.T, dir string, i int) string {
	t.Helper()
	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(i)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "in"+string(rune('0'+i))+".png")
	if err := imageio.WritePNG(path, s.Image, imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEncodeDecodeCommands(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "vq")
	if err := familytest.WriteVQVAE(model, 1); err != nil {
		t.Fatal(err)
	}
	a, b := heldOutPNG(t, dir, 0), heldOutPNG(t, dir, 1)
	codes := filepath.Join(dir, "codes.npy")
	if _, err := builtinCLI(t, "encode", "--model", model, a, b, "-o", codes); err != nil {
		t.Fatal(err)
	}
	shape, _, err := imageio.LoadNPYInt64(codes)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 3 || shape[0] != 2 || shape[1] != familytest.CodeGrid || shape[2] != familytest.CodeGrid {
		t.Fatalf("codes shape %v, want [2 8 8]", shape)
	}
	out := filepath.Join(dir, "img.png")
	got, err := builtinCLI(t, "decode", "--model", model, codes, "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "img-1.png"), filepath.Join(dir, "img-2.png")} {
		if !strings.Contains(got, p) {
			t.Errorf("decode printed %q, want %s", got, p)
		}
		img, err := imageio.LoadImage(p)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 32 {
			t.Errorf("%s is %v, want 32x32", p, img.Bounds())
		}
	}

	// Bad codes: each is one clear error naming the file; nothing written.
	floats := filepath.Join(dir, "floats.npy")
	imageio.SaveNPY(floats, []int{1, 8, 8}, make([]float32, 64))
	wrongGrid := filepath.Join(dir, "grid.npy")
	imageio.SaveNPYInt64(wrongGrid, []int{1, 4, 4}, make([]int64, 16))
	outside := filepath.Join(dir, "outside.npy")
	big := make([]int64, 64)
	big[5] = familytest.CodebookSize + 3
	imageio.SaveNPYInt64(outside, []int{1, 8, 8}, big)
	for _, tc := range []struct{ file, want string }{
		{floats, "npy dtype"},
		{wrongGrid, "decodes [N, 8, 8]"},
		{outside, "outside the codebook"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			o := filepath.Join(dir, "bad-"+filepath.Base(tc.file)+".png")
			_, err := builtinCLI(t, "decode", "--model", model, tc.file, "-o", o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, tc.file, tc.want)
			}
			if _, err := os.Stat(o); err == nil {
				t.Errorf("%s was written despite the error", o)
			}
		})
	}
}

func TestGenerateVAEFamilyFolder(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "vae")
	if err := familytest.WriteVAE(model, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.png")
	got, err := builtinCLI(t, "generate", "--json", "--model", model, "--seed", "3", "-o", out, "a red circle at the left on a blue background")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"family": "vae"`) {
		t.Errorf("summary lacks the family:\n%s", got)
	}
	meta, err := imageio.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta["parameters"], "a red circle at the left") || !strings.Contains(meta["parameters"], "Seed: 3") {
		t.Errorf("PNG parameters %q lack the prompt or seed", meta["parameters"])
	}
	npy := filepath.Join(dir, "x.npy")
	if _, err := builtinCLI(t, "generate", "--model", model, "-o", npy, "a green heart"); err != nil {
		t.Fatal(err)
	}
	if shape, _, err := imageio.LoadNPY(npy); err != nil || len(shape) != 4 || shape[1] != 32 {
		t.Fatalf("npy output: shape %v, %v", shape, err)
	}
	if _, err := builtinCLI(t, "encode", "--model", model, heldOutPNG(t, dir, 0), "-o", filepath.Join(dir, "c.npy")); err == nil || !strings.Contains(err.Error(), "image tokenizer") {
		t.Fatalf("encode with a VAE: got %v, want an error saying codes need a tokenizer", err)
	}
}
