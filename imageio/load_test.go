package imageio

import (
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestImageTensorExact(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{0, 255, 51, 255})
	img.SetNRGBA(1, 0, color.NRGBA{128, 1, 200, 0}) // alpha is dropped, not composited
	got, err := ImageTensor(img, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	byteTo := func(v uint8) float32 { return 2*(float32(v)/255) - 1 }
	want := []float32{byteTo(0), byteTo(128), byteTo(255), byteTo(1), byteTo(51), byteTo(200)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if got[0] != -1 || got[2] != 1 {
		t.Errorf("0 and 255 map to %v and %v, want -1 and 1", got[0], got[2])
	}
}

func TestImageTensorResize(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 40, 24))
	for i := range src.Pix {
		src.Pix[i] = 180
	}
	tests := []struct{ w, h int }{{16, 8}, {64, 48}, {40, 24}}
	for _, tt := range tests {
		got, err := ImageTensor(src, tt.w, tt.h)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3*tt.w*tt.h {
			t.Fatalf("%dx%d: %d values", tt.w, tt.h, len(got))
		}
		want := 2*(float32(180)/255) - 1
		for i, v := range got {
			if d := v - want; d > 1.0/255 || d < -1.0/255 { // a flat image stays flat
				t.Fatalf("%dx%d: [%d] = %v, want %v", tt.w, tt.h, i, v, want)
			}
		}
	}
	if _, err := ImageTensor(src, 0, 8); !errors.Is(err, ErrShape) {
		t.Errorf("zero width: err = %v, want ErrShape", err)
	}
}

func TestMaskTensor(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 1))
	colors := []color.NRGBA{
		{255, 255, 255, 255}, // white: repaint
		{0, 0, 0, 255},       // black: keep
		{128, 128, 128, 255}, // 128/255 >= 0.5
		{127, 127, 127, 255}, // just below
	}
	for x, c := range colors {
		img.SetNRGBA(x, 0, c)
	}
	got, err := MaskTensor(img, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 0, 1, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// PIL's L weights: pure red is 76, pure green 150.
	rg := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	rg.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	rg.SetNRGBA(1, 0, color.NRGBA{0, 255, 0, 255})
	if l := toGrayL(rg); l.Pix[0] != 76 || l.Pix[1] != 150 {
		t.Errorf("L(red), L(green) = %d, %d; want 76, 150", l.Pix[0], l.Pix[1])
	}
	resized, err := MaskTensor(img, 8, 8)
	if err != nil || len(resized) != 64 {
		t.Fatalf("resize: %d values, %v", len(resized), err)
	}
	for _, v := range resized {
		if v != 0 && v != 1 {
			t.Fatalf("resized mask holds %v, want only 0 and 1", v)
		}
	}
}

func TestTargetSize(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 515, 330))
	tests := []struct {
		w, h, multiple int
		wantW, wantH   int
		wantErr        bool
	}{
		{0, 0, 8, 512, 328, false},
		{256, 0, 8, 256, 328, false},
		{100, 100, 64, 64, 64, false},
		{4, 4, 8, 0, 0, true},
		{0, 0, 0, 0, 0, true},
	}
	for _, tt := range tests {
		w, h, err := TargetSize(img, tt.w, tt.h, tt.multiple)
		if (err != nil) != tt.wantErr || w != tt.wantW || h != tt.wantH {
			t.Errorf("TargetSize(%d, %d, %d) = %d, %d, %v; want %d, %d, err %v", tt.w, tt.h, tt.multiple, w, h, err, tt.wantW, tt.wantH, tt.wantErr)
		}
	}
}

func TestLoadImageFormats(t *testing.T) {
	dir := t.TempDir()
	src := testImage(16, 8)
	tests := []struct {
		name   string
		encode func(f *os.File) error
		exact  bool
	}{
		{"image.png", func(f *os.File) error { return png.Encode(f, src) }, true},
		{"image.jpg", func(f *os.File) error { return jpeg.Encode(f, src, &jpeg.Options{Quality: 95}) }, false},
		{"named-wrong.jpg", func(f *os.File) error { return png.Encode(f, src) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.encode(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			img, err := LoadImage(path)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() != 16 || img.Bounds().Dy() != 8 {
				t.Fatalf("size %v", img.Bounds())
			}
			if tt.exact {
				got, _ := ImageTensor(img, 16, 8)
				want, _ := ImageTensor(src, 16, 8)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("[%d] = %v, want %v", i, got[i], want[i])
					}
				}
			}
		})
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := LoadImage(bad); err == nil {
		t.Error("LoadImage of garbage: no error")
	}
	if _, err := LoadMask(filepath.Join(dir, "missing.png"), 8, 8); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing mask: err = %v, want ErrNotExist", err)
	}
}

func BenchmarkImageTensorResize(b *testing.B) {
	src := testImage(640, 480)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ImageTensor(src, 512, 512); err != nil {
			b.Fatal(err)
		}
	}
}
