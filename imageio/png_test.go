package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 11), uint8(x*y + 3), 255})
		}
	}
	return img
}

// chunkTypes lists the chunk types of a PNG stream in order.
func chunkTypes(t *testing.T, b []byte) []string {
	t.Helper()
	var types []string
	for p := len(pngSignature); p+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		types = append(types, string(b[p+4:p+8]))
		p += 12 + n
	}
	return types
}

func TestEncodePNGRoundTrip(t *testing.T) {
	params := GenerationParams{
		Prompt: "a red circle, oil painting", NegativePrompt: "blurry",
		Steps: 20, Sampler: "Euler", CFGScale: 7.5, Seed: 1234, Width: 8, Height: 6, Model: "sd1-tiny",
	}.Infotext()
	tests := []struct {
		name      string
		meta      Metadata
		wantTypes []string
	}{
		{"latin1", Metadata{Parameters: params, JSON: `{"seed":1234}`},
			[]string{"IHDR", "sRGB", "tEXt", "iTXt", "IDAT", "IEND"}},
		{"unicode parameters", Metadata{Parameters: "猫 on a mat\nSteps: 1", JSON: `{"prompt":"猫"}`},
			[]string{"IHDR", "sRGB", "iTXt", "iTXt", "IDAT", "IEND"}},
		{"no text", Metadata{}, []string{"IHDR", "sRGB", "IDAT", "IEND"}},
	}
	img := testImage(8, 6)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodePNG(&buf, img, tt.meta); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			if got := chunkTypes(t, b); !equalStrings(got, tt.wantTypes) {
				t.Errorf("chunks = %v, want %v", got, tt.wantTypes)
			}
			// IHDR: bit depth 8, colour type 2 (RGB).
			if b[24] != 8 || b[25] != 2 {
				t.Errorf("bit depth %d colour type %d, want 8 and 2", b[24], b[25])
			}
			text, err := DecodePNGText(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			if tt.meta.Parameters != "" {
				want[ParametersKeyword] = tt.meta.Parameters
			}
			if tt.meta.JSON != "" {
				want[JSONKeyword] = tt.meta.JSON
			}
			if !equalMaps(text, want) {
				t.Errorf("text = %q, want %q", text, want)
			}
			dec, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < 6; y++ {
				for x := 0; x < 8; x++ {
					if got, want := color.NRGBAModel.Convert(dec.At(x, y)), img.NRGBAAt(x, y); got != want {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
					}
				}
			}
			var again bytes.Buffer
			if err := EncodePNG(&again, img, tt.meta); err != nil || !bytes.Equal(again.Bytes(), b) {
				t.Errorf("second encoding differs (err %v)", err)
			}
		})
	}
}

func TestEncodePNGDropsAlpha(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
	img.SetNRGBA(1, 0, color.NRGBA{1, 2, 3, 128})
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img, Metadata{}); err != nil {
		t.Fatal(err)
	}
	if buf.Bytes()[25] != 2 {
		t.Fatalf("colour type %d, want 2 (RGB)", buf.Bytes()[25])
	}
	dec, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range []color.NRGBA{{200, 100, 50, 255}, {1, 2, 3, 255}} {
		if got := color.NRGBAModel.Convert(dec.At(x, 0)); got != want {
			t.Errorf("pixel %d = %v, want %v", x, got, want)
		}
	}
}

func TestEncodePNGErrors(t *testing.T) {
	tests := []struct {
		name string
		img  image.Image
		meta Metadata
	}{
		{"nil image", nil, Metadata{}},
		{"empty image", image.NewNRGBA(image.Rect(0, 0, 0, 0)), Metadata{}},
		{"bad JSON", testImage(2, 2), Metadata{JSON: "{"}},
		{"bad UTF-8", testImage(2, 2), Metadata{Parameters: "\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := EncodePNG(&bytes.Buffer{}, tt.img, tt.meta); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestReadPNGTextPIL reads a file PIL wrote with tEXt, zTXt and iTXt
// (compressed and not) chunks.
func TestReadPNGTextPIL(t *testing.T) {
	got, err := ReadPNGText(filepath.Join("testdata", "pil_text.png"))
	if err != nil {
		t.Fatal(err)
	}
	repeat := func(s string, n int) string {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			b.WriteString(s)
		}
		return b.String()
	}
	want := map[string]string{
		"parameters":  "a cat, oil\nSteps: 20, Sampler: Euler a, Seed: 5",
		"Comment":     "café latin-1",
		"zipped":      repeat("compressed text ", 20),
		"imagegen":    `{"prompt": "猫"}`,
		"zipped_itxt": repeat("ünicode ", 20),
	}
	if !equalMaps(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestDecodePNGTextErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodePNG(&buf, testImage(4, 4), Metadata{Parameters: "x"}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	corrupt := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		return b
	}
	textAt := bytes.Index(good, []byte("tEXt"))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not png", []byte("GIF89a........")},
		{"truncated", good[:len(good)-6]},
		{"no IEND", good[:bytes.Index(good, []byte("IEND"))-4]},
		{"bad text CRC", corrupt(textAt + 6)},
		{"bad IDAT CRC", corrupt(bytes.Index(good, []byte("IDAT")) + 6)},
		{"bad chunk type", corrupt(textAt)},
		{"IHDR not first", append([]byte(pngSignature), good[textAt-4:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePNGText(bytes.NewReader(tt.b))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("err = %v, want *FormatError", err)
			}
		})
	}
}

func TestWritePNGAndPngcheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.png")
	meta := Metadata{
		Parameters: GenerationParams{Prompt: "p", Steps: 2, Sampler: "Euler", CFGScale: 7, Seed: 1, Width: 16, Height: 16}.Infotext(),
		JSON:       `{"steps":2}`,
	}
	if err := WritePNG(path, testImage(16, 16), meta); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPNGText(path)
	if err != nil {
		t.Fatal(err)
	}
	if got[ParametersKeyword] != meta.Parameters || got[JSONKeyword] != meta.JSON {
		t.Errorf("read back %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the PNG", len(entries))
	}
	pngcheck, err := exec.LookPath("pngcheck")
	if err != nil {
		t.Skip("pngcheck not installed; skipping its check")
	}
	out, err := exec.Command(pngcheck, "-v", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pngcheck rejects the file: %v\n%s", err, out)
	}
}

func FuzzDecodePNGText(f *testing.F) {
	var buf bytes.Buffer
	EncodePNG(&buf, testImage(3, 2), Metadata{Parameters: "p\nSteps: 1", JSON: `{"a":1}`})
	f.Add(buf.Bytes())
	if b, err := os.ReadFile(filepath.Join("testdata", "pil_text.png")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(pngSignature))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := DecodePNGText(bytes.NewReader(b))
		if err != nil {
			return
		}
		for k := range text {
			if k == "" {
				t.Fatal("empty keyword accepted")
			}
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
