package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/detecttest"
	"github.com/imagegen/imagegen/shapes"
)

// detectFixtures writes a shapes render as PNG and JPEG and truncated
// copies of both.
func detectFixtures(t *testing.T, dir string) (png, jpg, badPNG, badJPG string) {
	t.Helper()
	s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(3)
	if err != nil {
		t.Fatal(err)
	}
	png, jpg = filepath.Join(dir, "real.png"), filepath.Join(dir, "real.jpg")
	if err := imageio.WritePNG(png, s.Image, imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(jpg)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, s.Image, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	badPNG, badJPG = filepath.Join(dir, "cut.png"), filepath.Join(dir, "cut.jpg")
	for src, dst := range map[string]string{png: badPNG, jpg: badJPG} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return png, jpg, badPNG, badJPG
}

func TestDetectExitStatus(t *testing.T) {
	dir := t.TempDir()
	png, jpg, badPNG, badJPG := detectFixtures(t, dir)
	model := filepath.Join(dir, "swinv2")
	detecttest.Write(t, model, detecttest.SwinV2Form, 5)
	imdet := filepath.Join(dir, "imdet")
	detecttest.Write(t, imdet, detecttest.ImdetForm, 6)

	tests := []struct {
		name   string
		args   []string
		status int
		errHas string // in the error message
	}{
		{"threshold 0 detects every picture", []string{"detect", "--model", model, "--threshold", "0", png, jpg}, exitDetected, ""},
		{"threshold 1 detects none", []string{"detect", png, "--model", model, "--threshold", "1"}, exitNotDetected, ""},
		{"unbatched input form", []string{"detect", "--model", imdet, "--threshold", "0", png}, exitDetected, ""},
		{"the .onnx file itself", []string{"detect", "--model", filepath.Join(imdet, "model.onnx"), "--threshold", "1", png}, exitNotDetected, ""},
		{"builtin", []string{"detect", png, jpg, "--threshold", "1.0"}, exitNotDetected, ""},
		{"truncated PNG", []string{"detect", "--model", model, png, badPNG}, exitDetectError, "1 of 2 pictures"},
		{"truncated JPEG", []string{"detect", badJPG}, exitDetectError, "could not be scored"},
		{"missing file", []string{"detect", filepath.Join(dir, "nope.png")}, exitDetectError, "could not be scored"},
		{"unknown built-in", []string{"detect", "--model", "builtin:nope", png}, exitDetectError, "no such built-in detector"},
		{"builtin:detector", []string{"detect", "--model", "builtin:detector", png, "--threshold", "1"}, exitNotDetected, ""},
		{"missing model folder", []string{"detect", "--model", filepath.Join(dir, "none"), png}, exitDetectError, "want builtin or a detector export folder"},
		{"folder without a model", []string{"detect", "--model", dir, png}, exitDetectError, "no ONNX model"},
		{"no pictures", []string{"detect"}, exitDetectError, "no pictures"},
		{"bad threshold", []string{"detect", "--threshold", "2", png}, exitDetectError, "--threshold"},
		{"unknown flag", []string{"detect", png, "--method", "x"}, exitDetectError, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			status := exitNotDetected
			if err != nil {
				status = exitStatus(err)
			}
			if status != tt.status {
				t.Fatalf("exit status %d (%v), want %d", status, err, tt.status)
			}
			if tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
				t.Errorf("error %v, want it to say %q", err, tt.errHas)
			}
		})
	}
}

func TestDetectJSON(t *testing.T) {
	dir := t.TempDir()
	png, _, badPNG, _ := detectFixtures(t, dir)
	model := filepath.Join(dir, "swinv2")
	detecttest.Write(t, model, detecttest.SwinV2Form, 5)
	out, err := runCLI(t, "detect", "--model", model, "--threshold", "0", "--json", png, badPNG)
	if exitStatus(err) != exitDetectError {
		t.Fatalf("got %v, want exit status 2 for the truncated file", err)
	}
	var res []detectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2: %s", len(res), out)
	}
	good, bad := res[0], res[1]
	if good.File != png || good.Score == nil || *good.Score <= 0 || *good.Score >= 1 || good.Generated == nil || !*good.Generated ||
		good.Label != "artificial" || good.Error != "" {
		t.Errorf("good picture: %s", out)
	}
	if bad.File != badPNG || bad.Score != nil || !strings.Contains(bad.Error, "not enough pixel data") {
		t.Errorf("truncated picture: %s", out)
	}
}

func TestDetectTextOutput(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 255})
	path := filepath.Join(dir, "noise.png")
	if err := imageio.WritePNG(path, img, imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "detect", path)
	if s := exitStatus(err); err != nil && s != exitDetected {
		t.Fatalf("got %v (status %d)", err, s)
	}
	fields := strings.Split(strings.TrimSpace(out), "\t")
	if len(fields) != 3 || fields[0] != path || (fields[2] != "generated" && fields[2] != "real") {
		t.Errorf("printed %q, want FILE<TAB>SCORE<TAB>LABEL", out)
	}
}
