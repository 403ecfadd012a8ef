package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
)

// runGenerateCLI runs the app as main does, including the argument
// reordering that lets flags follow a bare prompt.
func runGenerateCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	full := interspersed(app, append([]string{"imagegen", "--quiet"}, args...), "generate")
	return runCLI(t, full[1:]...)
}

// TestGenerateContract drives the CLI exactly as the conformance harness
// does and compares the .npy output with diffusers' image.
func TestGenerateContract(t *testing.T) {
	testort.Init(t)
	var c struct {
		Scheduler string                     `json:"scheduler"`
		Config    map[string]json.RawMessage `json:"config"`
		Steps     int                        `json:"steps"`
		Guidance  float64                    `json:"guidance"`
		Prompt    string                     `json:"prompt"`
		Seed      uint64                     `json:"seed"`
		Image     conformance.Array          `json:"image"`
	}
	conformance.Case(t, "sd1/dpmpp2m", &c)
	dir := conformance.Dir(t, "sd1-tiny")
	out := filepath.Join(t.TempDir(), "img.npy")
	args := []string{"generate", "--model", dir, "--prompt", c.Prompt, "--scheduler", c.Scheduler,
		"--steps", itoa(c.Steps), "--guidance", ftoa(c.Guidance), "--seed", itoa(int(c.Seed)), "--output", out}
	var keys []string
	for k := range c.Config {
		if !strings.HasPrefix(k, "_") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--scheduler-opt", k+"="+string(c.Config[k]))
	}
	stdout, err := runGenerateCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if lastLine(stdout) != out {
		t.Errorf("stdout last line: got %q, want the output path", lastLine(stdout))
	}
	shape, got, err := imageio.LoadNPY(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 4 || shape[0] != 1 || shape[3] != 3 {
		t.Fatalf("npy shape %v, want [1 H W 3]", shape)
	}
	want := c.Image.Float32()
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	if worst > 5e-3 {
		t.Errorf("image differs from diffusers by up to %.2e", worst)
	}
}

func itoa(n int) string       { b, _ := json.Marshal(n); return string(b) }
func ftoa(f float64) string   { b, _ := json.Marshal(f); return string(b) }
func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestGenerateFiles(t *testing.T) {
	testort.Init(t)
	dir := conformance.Dir(t, "sd1-tiny")
	tmp := t.TempDir()
	t.Run("bare prompt, flags after it, png with parameters", func(t *testing.T) {
		out := filepath.Join(tmp, "cat.png")
		if _, err := runGenerateCLI(t, "generate", "a cat", "--model", dir, "--steps", "2", "-o", out, "--save-latents", filepath.Join(tmp, "lat.npy")); err != nil {
			t.Fatal(err)
		}
		text, err := imageio.ReadPNGText(out)
		if err != nil {
			t.Fatal(err)
		}
		if p := text["parameters"]; !strings.HasPrefix(p, "a cat\n") || !strings.Contains(p, "Steps: 2") || !strings.Contains(p, "Seed: 0") {
			t.Errorf("parameters text: %q", p)
		}
		var req map[string]any
		if err := json.Unmarshal([]byte(text["imagegen"]), &req); err != nil || req["prompt"] != "a cat" {
			t.Errorf("request JSON: %v, %v", text["imagegen"], err)
		}
		if shape, _, err := imageio.LoadNPY(filepath.Join(tmp, "lat.npy")); err != nil || len(shape) != 4 || shape[1] != 4 {
			t.Errorf("latents: shape %v, %v", shape, err)
		}
	})
	t.Run("numbered outputs", func(t *testing.T) {
		out := filepath.Join(tmp, "b.png")
		stdout, err := runGenerateCLI(t, "generate", "--model", dir, "--prompt", "a", "--prompt", "b", "--num-images", "2", "--steps", "1", "-o", out)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			p := filepath.Join(tmp, "b-"+itoa(i)+".png")
			if !exists(p) || !strings.Contains(stdout, p) {
				t.Errorf("%s missing (stdout %q)", p, stdout)
			}
		}
		if exists(out) {
			t.Errorf("%s written besides the numbered files", out)
		}
	})
	t.Run("same arguments, same bytes", func(t *testing.T) {
		a, b := filepath.Join(tmp, "x1.png"), filepath.Join(tmp, "x2.png")
		for _, out := range []string{a, b} {
			if _, err := runGenerateCLI(t, "generate", "--model", dir, "--prompt", "x", "--steps", "2", "--seed", "9", "-o", out); err != nil {
				t.Fatal(err)
			}
		}
		da, _ := os.ReadFile(a)
		db, _ := os.ReadFile(b)
		if string(da) != string(db) {
			// The request JSON names the file-independent request only, so
			// the bytes must match.
			t.Error("two runs with the same arguments wrote different files")
		}
	})
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"size", []string{"--height", "33"}, "multiples of 2"},
		{"steps", []string{"--steps", "0"}, "at least 1"},
		{"temperature 0", []string{"--temperature", "0"}, "--temperature must be a finite number > 0, got 0"},
		{"negative temperature", []string{"--temperature", "-0.5"}, "--temperature must be a finite number > 0, got -0.5"},
		{"extension", []string{"-o", filepath.Join(tmp, "bad.jpg")}, ".png or .npy"},
		{"missing model", []string{"--model", filepath.Join(tmp, "nope")}, "does not exist"},
		{"unknown model name", []string{"--model", "no-such-model"}, "not a folder, an hf: or builtin: reference or a models.yaml name"},
		{"mask size", []string{"--init-image", "IMG", "--mask", "MASK"}, "same size"},
		{"unknown option", []string{"--scheduler-opt", "no_such_key=1"}, "no_such_key"},
	}
	img := filepath.Join(tmp, "init.png")
	mask := filepath.Join(tmp, "mask.png")
	writeTestPNG(t, img, 32)
	writeTestPNG(t, mask, 16)
	for _, tc := range bad {
		t.Run("bad "+tc.name, func(t *testing.T) {
			out := filepath.Join(tmp, "bad-"+tc.name+".png")
			args := []string{"generate", "--model", dir, "--prompt", "x", "--steps", "1", "-o", out}
			for _, a := range tc.args {
				a = strings.NewReplacer("IMG", img, "MASK", mask).Replace(a)
				args = append(args, a)
			}
			_, err := runGenerateCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if exists(out) {
				t.Errorf("%s left behind after an error", out)
			}
		})
	}
}

func writeTestPNG(t *testing.T, path string, size int) {
	t.Helper()
	data := make([]float32, size*size*3)
	for i := range data {
		data[i] = float32(i%7) / 7
	}
	imgs, err := imageio.ToNRGBA(data, []int{1, size, size, 3}, imageio.NHWC, imageio.Unit)
	if err != nil {
		t.Fatal(err)
	}
	if err := imageio.WritePNG(path, imgs[0], imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
}
