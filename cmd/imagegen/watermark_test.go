package main

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
)

// texturedPNG writes a w x h picture with blue texture, on which
// invisible-watermark's dwtDct reads its own marks back.
func texturedPNG(t *testing.T, dir string, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{100, 120, uint8(40 + (x*7+y*13)%170), 255})
		}
	}
	path := filepath.Join(dir, "in.png")
	if err := imageio.WritePNG(path, img, imageio.Metadata{Parameters: "a test\nSteps: 1"}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWatermarkEmbedDetect(t *testing.T) {
	dir := t.TempDir()
	in := texturedPNG(t, dir, 256, 256)
	out := filepath.Join(dir, "marked.png")
	// Flags after the file, as the usage line writes them.
	if _, err := runCLI(t, "watermark", "embed", "--method", "dwtDct", "--bits", "sdxl", in, "-o", out); err != nil {
		t.Fatal(err)
	}
	text, err := imageio.ReadPNGText(out)
	if err != nil || text["parameters"] != "a test\nSteps: 1" {
		t.Errorf("marked PNG text %q, %v; want the input's parameters kept", text, err)
	}

	got, err := runCLI(t, "watermark", "detect", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Method      string   `json:"method"`
		Bits        []int    `json:"bits"`
		Match       bool     `json:"match"`
		BitAccuracy *float64 `json:"bit_accuracy"`
		PValue      *float64 `json:"p_value"`
	}
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		t.Fatalf("detect --json printed %q: %v", got, err)
	}
	if res.Method != "dwtDct" || len(res.Bits) != 48 || !res.Match || res.BitAccuracy == nil || *res.BitAccuracy != 1 ||
		res.PValue == nil || *res.PValue > 1e-14 {
		t.Errorf("detect --json: got %s", got)
	}

	got, err = runCLI(t, "watermark", "detect", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "sdxl: no match") {
		t.Errorf("detect on the unmarked picture printed %q, want no match", got)
	}

	got, err = runCLI(t, "watermark", "detect", "--bits", "32", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"bit_accuracy": null`) || !strings.Contains(got, `"match": false`) {
		t.Errorf("detect --bits 32 --json printed %q, want no comparison", got)
	}

	svd := filepath.Join(dir, "svd.png")
	if _, err := runCLI(t, "watermark", "embed", "--method", "dwtDctSvd", "--bits", "c0ffee42", in, "-o", svd); err != nil {
		t.Fatal(err)
	}
	got, err = runCLI(t, "watermark", "detect", svd, "--method", "dwtDctSvd", "--bits", "32")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "hex: c0ffee42") {
		t.Errorf("detect of a dwtDctSvd mark printed %q, want hex: c0ffee42", got)
	}
}

func TestWatermarkErrors(t *testing.T) {
	dir := t.TempDir()
	in := texturedPNG(t, dir, 256, 256)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.png")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.png")
	if err := imageio.WritePNG(small, image.NewNRGBA(image.Rect(0, 0, 300, 200)), imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.png")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad hex", []string{"embed", "--bits", "12zz", in, "-o", out}, "not hex"},
		{"unknown method", []string{"embed", "--method", "rivaGan", in, "-o", out}, "unknown method"},
		{"no output", []string{"embed", in}, "no output file"},
		{"jpeg output", []string{"embed", in, "-o", filepath.Join(dir, "out.jpg")}, "want a .png"},
		{"truncated", []string{"embed", truncated, "-o", out}, "decode"},
		{"too small", []string{"embed", small, "-o", out}, "image too small"},
		{"detect truncated", []string{"detect", truncated}, "decode"},
		{"detect too small", []string{"detect", small}, "image too small"},
		{"detect unknown method", []string{"detect", in, "--method", "dct"}, "unknown method"},
		{"detect zero bits", []string{"detect", in, "--bits", "0"}, "--bits 0"},
		{"detect two files", []string{"detect", in, in}, "want one IN.png"},
		{"detect unknown flag", []string{"detect", in, "--frobnicate"}, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, append([]string{"watermark"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}
