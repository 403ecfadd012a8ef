package main

import (
	"encoding/json"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/upscaletest"
)

// readPNG decodes the picture at path as NRGBA.
func readPNG(t *testing.T, path string) *image.NRGBA {
	t.Helper()
	img, err := imageio.LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		b := img.Bounds()
		n = image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				n.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
			}
		}
	}
	return n
}

// sameAsNearest fails t unless big is small enlarged s times by
// nearest-neighbour sampling.
func sameAsNearest(t *testing.T, big, small *image.NRGBA, s int) {
	t.Helper()
	if big.Bounds().Dx() != s*small.Bounds().Dx() || big.Bounds().Dy() != s*small.Bounds().Dy() {
		t.Fatalf("output %v, want %d times %v", big.Bounds().Size(), s, small.Bounds().Size())
	}
	for y := 0; y < big.Bounds().Dy(); y++ {
		for x := 0; x < big.Bounds().Dx(); x++ {
			if a, b := big.NRGBAAt(x, y), small.NRGBAAt(x/s, y/s); a != b {
				t.Fatalf("pixel (%d, %d) is %v, the input's (%d, %d) %v", x, y, a, x/s, y/s, b)
			}
		}
	}
}

func TestUpscaleCommand(t *testing.T) {
	dir := t.TempDir()
	fixed := filepath.Join(dir, "fixed")
	if err := upscaletest.Write(filepath.Join(fixed, "model.onnx"), upscaletest.Config{Scale: 4, Side: 32, Nearest: true}, 1); err != nil {
		t.Fatal(err)
	}
	dynamic := filepath.Join(dir, "x2.onnx")
	if err := upscaletest.Write(dynamic, upscaletest.Config{Scale: 2, Nearest: true}, 1); err != nil {
		t.Fatal(err)
	}
	src := image.NewNRGBA(image.Rect(0, 0, 45, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 45; x++ {
			src.SetNRGBA(x, y, color.NRGBA{uint8(5 * x), uint8(8 * y), uint8(x * y), uint8(100 + x)}) // alpha is dropped
		}
	}
	in := filepath.Join(dir, "in.png")
	if err := imageio.WritePNG(in, src, imageio.Metadata{Parameters: "a cat\nSteps: 2, Seed: 7", JSON: `{"seed":7}`}); err != nil {
		t.Fatal(err)
	}
	opaque := imageio.RGBTensor(src)
	want := image.NewNRGBA(src.Bounds())
	for i := 0; i < 45*30; i++ {
		for c := 0; c < 3; c++ {
			want.Pix[4*i+c] = imageio.ToUint8(opaque[c*45*30+i])
		}
		want.Pix[4*i+3] = 255
	}

	out := filepath.Join(dir, "out", "big.png")
	stdout, err := builtinCLI(t, "upscale", in, "--model", fixed, "-o", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var summary struct {
		Output        string
		Scale, Width  int
		Height, Tiles int
	}
	if err := json.Unmarshal([]byte(stdout), &summary); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if summary.Output != out || summary.Scale != 4 || summary.Width != 180 || summary.Height != 120 || summary.Tiles != 2 {
		t.Errorf("summary %+v, want %s, scale 4, 180x120 in 2 tiles (30 rows padded to one 32-row tile)", summary, out)
	}
	sameAsNearest(t, readPNG(t, out), want, 4)
	text, err := imageio.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	if p := text["parameters"]; p != "a cat\nSteps: 2, Seed: 7, Postprocess upscale by: 4, Postprocess upscaler: fixed" {
		t.Errorf("parameters %q", p)
	}

	// A dynamic export in tiles; the output is named after the input.
	stdout, err = builtinCLI(t, "upscale", "--model", dynamic, "--tile", "16", "--tile-overlap", "3", in)
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "in-x2.png")
	if lastLine(stdout) != def {
		t.Errorf("printed %q, want %s", stdout, def)
	}
	sameAsNearest(t, readPNG(t, def), want, 2)
}

func TestUpscaleCommandErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	if err := imageio.WritePNG(in, image.NewNRGBA(image.Rect(0, 0, 8, 8)), imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	models := map[string]upscaletest.Config{
		"ratio.onnx": {Side: 32, Resize: [2]float32{1.5, 1.5}},
		"rgba.onnx":  {Scale: 2, Nearest: true, InChannels: 4},
		"fixed.onnx": {Scale: 2, Side: 16, Nearest: true},
	}
	for name, cfg := range models {
		if err := upscaletest.Write(filepath.Join(dir, name), cfg, 1); err != nil {
			t.Fatal(err)
		}
	}
	big := filepath.Join(dir, "32.png")
	if err := imageio.WritePNG(big, image.NewNRGBA(image.Rect(0, 0, 32, 32)), imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.png")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"non-integer ratio", []string{"upscale", "--model", filepath.Join(dir, "ratio.onnx"), in, "-o", out}, "not an integer multiple of the input size: declared input float32 [1,3,32,32] → output float32 [1,3,48,48]"},
		{"four channels", []string{"upscale", "--model", filepath.Join(dir, "rgba.onnx"), in, "-o", out}, "has 4 channels, want 3 (RGB)"},
		{"tile of a fixed model", []string{"upscale", "--model", filepath.Join(dir, "fixed.onnx"), "--tile", "8", in, "-o", out}, "only takes 16x16 tiles"},
		{"no model", []string{"upscale", "--model", filepath.Join(dir, "missing"), in, "-o", out}, "no such file"},
		{"not a png output", []string{"upscale", "--model", filepath.Join(dir, "fixed.onnx"), in, "-o", filepath.Join(dir, "out.jpg")}, "want a .png"},
		{"generate, bad upscaler", []string{"generate", "--upscale", filepath.Join(dir, "ratio.onnx"), "-o", out, "a red circle"}, "generate: --upscale: upscale:"},
		{"builtin:sr on another size", []string{"upscale", "--model", "builtin:sr", in, "-o", out}, "builtin:sr takes 32x32 pictures, got 8x8"},
		{"builtin:sr, noise level over the maximum", []string{"upscale", "--model", "builtin:sr", "--noise-level", "999", big, "-o", out}, "noise level 999: want 0..250"},
		{"stage flags on an export", []string{"upscale", "--model", filepath.Join(dir, "fixed.onnx"), "--noise-level", "3", in, "-o", out}, "--noise-level applies to diffusion stages"},
		{"unknown built-in", []string{"upscale", "--model", "builtin:nope", in, "-o", out}, "unknown model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := builtinCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if exists(out) {
				t.Errorf("%s was written", out)
			}
		})
	}
}

// TestUpscaleBuiltinSR runs the built-in stage alone on the built-in
// model's 32x32 picture, with its own and with given settings.
func TestUpscaleBuiltinSR(t *testing.T) {
	dir := t.TempDir()
	small, big, other := filepath.Join(dir, "small.png"), filepath.Join(dir, "big.png"), filepath.Join(dir, "other.png")
	if _, err := builtinCLI(t, "generate", "--height", "32", "--width", "32", "--steps", "4", "-o", small, "a red circle"); err != nil {
		t.Fatal(err)
	}
	if _, err := builtinCLI(t, "upscale", "--model", "builtin:sr", small, "-o", big); err != nil {
		t.Fatal(err)
	}
	if _, err := builtinCLI(t, "upscale", "--model", "builtin:sr", "--seed", "4", "--steps", "2", "--noise-level", "100", small, "-o", other); err != nil {
		t.Fatal(err)
	}
	a, b := readPNG(t, big), readPNG(t, other)
	if a.Bounds().Dx() != 128 || a.Bounds().Dy() != 128 || b.Bounds() != a.Bounds() {
		t.Fatalf("got %v and %v, want 128x128", a.Bounds(), b.Bounds())
	}
	if string(a.Pix) == string(b.Pix) {
		t.Error("--seed, --steps and --noise-level changed nothing")
	}
	if text, err := imageio.ReadPNGText(big); err != nil || !strings.Contains(text["parameters"], "Size: 32x32") || !strings.HasSuffix(text["parameters"], "Postprocess upscale by: 4, Postprocess upscaler: builtin:sr") {
		t.Errorf("parameters %q (%v): want the generated size and the stage", text["parameters"], err)
	}
}

// TestGenerateUpscale: generate --upscale with an exactly
// nearest-neighbour ×4 export writes the built-in model's 32×32 picture
// enlarged to 128×128, pixel for pixel.
func TestGenerateUpscale(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "x4.onnx")
	if err := upscaletest.Write(model, upscaletest.Config{Scale: 4, Side: 32, Nearest: true}, 1); err != nil {
		t.Fatal(err)
	}
	small, big := filepath.Join(dir, "small.png"), filepath.Join(dir, "big.png")
	// The model's own 32x32 pictures (without its cascade stage).
	if _, err := builtinCLI(t, "generate", "--seed", "5", "--height", "32", "--width", "32", "-o", small, "a red circle above a blue square"); err != nil {
		t.Fatal(err)
	}
	stdout, err := builtinCLI(t, "generate", "--seed", "5", "--height", "32", "--width", "32", "--upscale", model, "--json", "-o", big, "a red circle above a blue square")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `"scale": 4`) {
		t.Errorf("JSON summary without the upscale: %s", stdout)
	}
	sameAsNearest(t, readPNG(t, big), readPNG(t, small), 4)
	text, err := imageio.ReadPNGText(big)
	if err != nil {
		t.Fatal(err)
	}
	if p := text["parameters"]; !strings.Contains(p, "Size: 32x32") || !strings.HasSuffix(p, "Postprocess upscale by: 4, Postprocess upscaler: x4.onnx") {
		t.Errorf("parameters %q: want the generated size and the upscaler", p)
	}
	var rec struct {
		Width   int
		Upscale struct {
			Model string
			Scale int
		}
	}
	if err := json.Unmarshal([]byte(text["imagegen"]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Width != 32 || rec.Upscale.Scale != 4 || rec.Upscale.Model != model {
		t.Errorf("JSON record %s: want the generated width and the upscaler", text["imagegen"])
	}
}
