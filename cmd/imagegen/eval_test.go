package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/imageio"

	"github.com/imagegen/imagegen/internal/testort"
)

// builtinCLI runs the CLI with the user cache in a temporary folder, so
// the built-in model is written there, and ONNX Runtime from the tests'
// library.
func builtinCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	testort.Init(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	return runCLI(t, append([]string{"--quiet", "--ort-lib", testort.LibPath()}, args...)...)
}

func TestGenerateWithoutModelUsesBuiltin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.png")
	if _, err := builtinCLI(t, "generate", "-o", out, "a red circle above a blue square"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 128 || b.Dy() != 128 {
		t.Fatalf("image is %dx%d, want the built-in model's 32x32 enlarged by its stage to 128x128", b.Dx(), b.Dy())
	}
	text, err := imageio.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	if p := text["parameters"]; !strings.Contains(p, "Size: 128x128") || !strings.Contains(p, `Cascade stage: "builtin:sr", Cascade base size: 32x32`) {
		t.Errorf("parameters %q: want the size and the cascade stage", p)
	}
	if !strings.Contains(text["imagegen"], `"cascade":{"base_height":32,"base_width":32,"noise_level":0,"scale":4,"stage":"builtin:sr","steps":4}`) {
		t.Errorf("JSON record %s: want the cascade stage", text["imagegen"])
	}

	// --height 32 --width 32 runs the model alone.
	small := filepath.Join(t.TempDir(), "small.png")
	if _, err := builtinCLI(t, "generate", "--height", "32", "--width", "32", "-o", small, "a red circle above a blue square"); err != nil {
		t.Fatal(err)
	}
	if b := readPNG(t, small).Bounds(); b.Dx() != 32 || b.Dy() != 32 {
		t.Fatalf("--height 32 --width 32: image is %dx%d", b.Dx(), b.Dy())
	}
	if text, err := imageio.ReadPNGText(small); err != nil || strings.Contains(text["parameters"], "Cascade") || strings.Contains(text["imagegen"], "cascade") {
		t.Errorf("32x32 record %v (%v): want no cascade stage", text, err)
	}
}

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	got, err := builtinCLI(t, "eval", "-n", "2", "--steps", "4", "--json", "--save-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(got), &rep); err != nil {
		t.Fatalf("eval --json printed %q: %v", got, err)
	}
	// eval measures what generate gives: the cascade's 128x128.
	if rep.Prompts != 2 || rep.Steps != 4 || rep.Size != 128 || rep.Stage != "builtin:sr" || rep.Model != "default" {
		t.Errorf("report %+v: want 2 prompts, 4 steps, 128 px through builtin:sr, model default", rep)
	}
	// The parameters are the base checkpoint's and the stage's.
	var want int64
	for _, name := range []string{"builtin:default", "builtin:sr"} {
		m, err := builtin.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		dir, err := m.Dir("")
		if err != nil {
			t.Fatal(err)
		}
		n, err := evaluate.CountParameters(dir)
		if err != nil || n == 0 {
			t.Fatalf("%s: %d parameters, %v", name, n, err)
		}
		want += n
	}
	if rep.Parameters != want {
		t.Errorf("parameters %d, want %d (builtin:default's and builtin:sr's)", rep.Parameters, want)
	}
	for name, v := range map[string]float64{"color": rep.Color, "shape": rep.Shape, "position": rep.Position} {
		if v < 0 || v > 1 {
			t.Errorf("%s accuracy %v outside [0, 1]", name, v)
		}
	}
	if !strings.HasPrefix(rep.Text, "2 images:") {
		t.Errorf("report text %q, want it to start with the image count", rep.Text)
	}
	for _, f := range []string{"000.png", "001.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--save-dir: %v", err)
		}
	}
}

func TestEvalBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no prompts", []string{"eval", "-n", "0"}, "-n must be at least 1"},
		{"zero steps", []string{"eval", "--steps", "0"}, "--steps must be at least 1"},
		{"missing model", []string{"eval", "--model", "./no/such/folder"}, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := builtinCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestBuiltinModelByName checks the models.yaml entry of the built-in
// model: `models` lists it as built in, `--model default` runs it, and a
// user models.yaml can change its defaults.
func TestBuiltinModelByName(t *testing.T) {
	t.Chdir(t.TempDir())
	got, err := builtinCLI(t, "models")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "builtin:default") || !strings.Contains(got, "built-in") {
		t.Errorf("models listing lacks the built-in entry:\n%s", got)
	}
	yaml := "models:\n  - name: default\n    source: builtin:default\n    defaults: {scheduler: DDIMScheduler, steps: 3, guidance: 1, width: 32, height: 32}\n"
	if err := os.WriteFile("models.yaml", []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--model", "default"}, {"--model", "builtin:default"}, {}} {
		got, err := builtinCLI(t, append([]string{"generate", "--json", "-o", "x.png"}, append(args, "a green heart")...)...)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if !strings.Contains(got, `"steps": 3`) || !strings.Contains(got, "DDIMScheduler") {
			t.Errorf("%q: the user's defaults (DDIM, 3 steps) were not applied:\n%s", args, got)
		}
	}
}

func TestUnknownBuiltin(t *testing.T) {
	_, err := builtinCLI(t, "generate", "--model", "builtin:teleport", "-o", filepath.Join(t.TempDir(), "x.png"), "a red circle")
	if err == nil || !strings.Contains(err.Error(), "teleport") || !strings.Contains(err.Error(), "default, vae, vqvae") {
		t.Fatalf("got %v, want an error naming the unknown model and listing the built-in ones", err)
	}
}
