package upscale_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/internal/upscaletest"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/upscale"
)

// open writes the model of cfg and opens it with one thread.
func open(t *testing.T, cfg upscaletest.Config) *upscale.Upscaler {
	t.Helper()
	u, err := openErr(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func openErr(t *testing.T, cfg upscaletest.Config) (*upscale.Upscaler, error) {
	t.Helper()
	testort.Init(t)
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := upscaletest.Write(path, cfg, 3); err != nil {
		t.Fatal(err)
	}
	return upscale.Open(context.Background(), path, upscale.Options{Session: ort.Options{IntraOpThreads: 1}})
}

// gradient is a w×h picture whose channels vary along x, y and both.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), uint8((x*7 + y*13) % 256), 255})
		}
	}
	return img
}

// nearest is Go's own nearest-neighbour upscale of img by s.
func nearest(img *image.NRGBA, s int) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()*s, b.Dy()*s))
	for y := 0; y < b.Dy()*s; y++ {
		for x := 0; x < b.Dx()*s; x++ {
			out.SetNRGBA(x, y, img.NRGBAAt(x/s, y/s))
		}
	}
	return out
}

func TestScaleAndForms(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        upscaletest.Config
		scale      int
		fixedH, fw int
	}{
		{"fixed 32 to 128", upscaletest.Config{Scale: 4, Side: 32, Features: 8, Layers: 2}, 4, 32, 32},
		{"dynamic x2", upscaletest.Config{Scale: 2, Features: 8, Layers: 2}, 2, 0, 0},
		{"dynamic nearest x3", upscaletest.Config{Scale: 3, Nearest: true}, 3, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := open(t, tc.cfg)
			if u.Scale() != tc.scale {
				t.Errorf("scale %d, want %d", u.Scale(), tc.scale)
			}
			if h, w := u.FixedSize(); h != tc.fixedH || w != tc.fw {
				t.Errorf("fixed size %dx%d, want %dx%d", w, h, tc.fw, tc.fixedH)
			}
			out, err := u.Upscale(context.Background(), gradient(45, 20), upscale.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if b := out.Bounds(); b.Dx() != 45*tc.scale || b.Dy() != 20*tc.scale {
				t.Errorf("output %dx%d, want %dx%d", b.Dx(), b.Dy(), 45*tc.scale, 20*tc.scale)
			}
		})
	}
}

// TestNearestIsExact: a model that is exactly a nearest-neighbour upscale
// gives Go's own nearest-neighbour picture, pixel for pixel, whatever the
// tiling: one whole run, tiles of a fixed-size export over a picture that
// is not a multiple of them, a picture smaller than the tile (padded), and
// tiles asked of a dynamic export.
func TestNearestIsExact(t *testing.T) {
	fixed := open(t, upscaletest.Config{Scale: 4, Side: 32, Nearest: true})
	dynamic := open(t, upscaletest.Config{Scale: 2, Nearest: true})
	for _, tc := range []struct {
		name string
		u    *upscale.Upscaler
		w, h int
		o    upscale.RunOptions
	}{
		{"fixed, 75x50 in 32x32 tiles", fixed, 75, 50, upscale.RunOptions{}},
		{"fixed, overlap 10", fixed, 75, 50, upscale.RunOptions{Overlap: 10}},
		{"fixed, 20x12 padded to one tile", fixed, 20, 12, upscale.RunOptions{}},
		{"fixed, 1x40", fixed, 1, 40, upscale.RunOptions{}},
		{"dynamic, whole", dynamic, 61, 33, upscale.RunOptions{}},
		{"dynamic, tiles of 16", dynamic, 61, 33, upscale.RunOptions{Tile: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gradient(tc.w, tc.h)
			x := imageio.RGBTensor(img)
			s := tc.u.Scale()
			got, err := tc.u.UpscaleCHW(context.Background(), x, tc.h, tc.w, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			oh, ow := tc.h*s, tc.w*s
			if len(got) != 3*oh*ow {
				t.Fatalf("%d values, want %d", len(got), 3*oh*ow)
			}
			for c := 0; c < 3; c++ {
				for y := 0; y < oh; y++ {
					for xx := 0; xx < ow; xx++ {
						want := x[(c*tc.h+y/s)*tc.w+xx/s]
						if d := math.Abs(float64(got[(c*oh+y)*ow+xx] - want)); d > 1e-6 {
							t.Fatalf("channel %d at (%d, %d): got %v, want %v", c, xx, y, got[(c*oh+y)*ow+xx], want)
						}
					}
				}
			}
			pic, err := tc.u.Upscale(context.Background(), img, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			want := nearest(img, s)
			for i := range want.Pix {
				if pic.Pix[i] != want.Pix[i] {
					t.Fatalf("byte %d: got %d, want %d (Go's nearest-neighbour upscale)", i, pic.Pix[i], want.Pix[i])
				}
			}
		})
	}
}

// TestConstantStaysConstant is the seam test. Random 3×3 convolutions
// that repeat edge pixels, after a nearest-neighbour upscale (SRCNN
// style), map a constant picture to a constant, so any output value that
// differs is a seam; every value must match the first within 1e-6 and
// every byte must be equal. Before a DepthToSpace (ESRGAN style) they map
// it to a pattern repeating every Scale pixels, which must repeat
// unbroken across the tiles in the same way.
func TestConstantStaysConstant(t *testing.T) {
	fixed := open(t, upscaletest.Config{Scale: 4, Side: 32, Features: 16, Layers: 3, UpsampleFirst: true})
	dynamic := open(t, upscaletest.Config{Scale: 2, Features: 16, Layers: 3, UpsampleFirst: true})
	shuffle := open(t, upscaletest.Config{Scale: 4, Side: 32, Features: 16, Layers: 3})
	grey := color.NRGBA{80, 150, 210, 255}
	for _, tc := range []struct {
		name   string
		u      *upscale.Upscaler
		period int // of the output pattern
		w, h   int
		o      upscale.RunOptions
	}{
		{"fixed, 100x70", fixed, 1, 100, 70, upscale.RunOptions{}},
		{"fixed, 100x70, overlap 12", fixed, 1, 100, 70, upscale.RunOptions{Overlap: 12}},
		{"fixed, 9x9 padded", fixed, 1, 9, 9, upscale.RunOptions{}},
		{"dynamic, tiles of 24", dynamic, 1, 90, 50, upscale.RunOptions{Tile: 24}},
		{"pixel shuffle, 100x70", shuffle, 4, 100, 70, upscale.RunOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewNRGBA(image.Rect(0, 0, tc.w, tc.h))
			for i := 0; i < len(img.Pix); i += 4 {
				img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = grey.R, grey.G, grey.B, grey.A
			}
			var tiles upscale.Progress
			tc.o.Progress = func(p upscale.Progress) { tiles = p }
			got, err := tc.u.UpscaleCHW(context.Background(), imageio.RGBTensor(img), tc.h, tc.w, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if tiles.Done != tiles.Total || (tc.w > 32 && tiles.Total < 4) {
				t.Errorf("progress ended at %d of %d tiles", tiles.Done, tiles.Total)
			}
			s, p := tc.u.Scale(), tc.period
			oh, ow := tc.h*s, tc.w*s
			for c := 0; c < 3; c++ {
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						v, ref := got[(c*oh+y)*ow+x], got[(c*oh+y%p)*ow+x%p]
						if d := math.Abs(float64(v - ref)); d > 1e-6 {
							t.Fatalf("channel %d at (%d, %d): %v, at (%d, %d) %v (differs by %g)", c, x, y, v, x%p, y%p, ref, d)
						}
					}
				}
			}
			pic, err := tc.u.Upscale(context.Background(), img, upscale.RunOptions{Tile: tc.o.Tile})
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					if a, b := pic.NRGBAAt(x, y), pic.NRGBAAt(x%p, y%p); a != b {
						t.Fatalf("pixel (%d, %d) is %v, (%d, %d) %v", x, y, a, x%p, y%p, b)
					}
				}
			}
		})
	}
}

// TestTiledCloseToWhole: on a smooth picture, random convolutions run in
// overlapping tiles stay close to the same model run whole; only pixels
// near a tile border can differ at all.
func TestTiledCloseToWhole(t *testing.T) {
	u := open(t, upscaletest.Config{Scale: 2, Features: 8, Layers: 2})
	const w, h = 80, 56
	x := imageio.RGBTensor(gradient(w, h))
	whole, err := u.UpscaleCHW(context.Background(), x, h, w, upscale.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := u.UpscaleCHW(context.Background(), x, h, w, upscale.RunOptions{Tile: 32})
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range whole {
		worst = math.Max(worst, math.Abs(float64(tiled[i]-whole[i])))
	}
	t.Logf("largest difference tiled vs whole: %.4f", worst)
	if worst > 0.05 {
		t.Errorf("tiled output differs from the whole run by up to %.4f", worst)
	}
}

func TestBadModels(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  upscaletest.Config
		want error
		text string
	}{
		{"declared 32 to 48", upscaletest.Config{Side: 32, Resize: [2]float32{1.5, 1.5}}, upscale.ErrScale, "height 48/32"},
		{"dynamic x1.5 (probe)", upscaletest.Config{Resize: [2]float32{1.5, 1.5}}, upscale.ErrScale, "height 24/16"},
		{"x2 by x3", upscaletest.Config{Side: 16, Resize: [2]float32{2, 3}}, upscale.ErrScale, "height 32/16, width 48/16"},
		{"downscaler", upscaletest.Config{Resize: [2]float32{0.5, 0.5}}, upscale.ErrScale, "height 8/16"},
		{"grey input", upscaletest.Config{Scale: 2, Nearest: true, InChannels: 1}, upscale.ErrNotUpscaler, "1 channels, want 3"},
		{"RGBA input", upscaletest.Config{Scale: 2, Side: 16, Nearest: true, InChannels: 4}, upscale.ErrNotUpscaler, "4 channels, want 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := openErr(t, tc.cfg)
			if err == nil {
				u.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			t.Log(err)
		})
	}
}

func TestBadOptions(t *testing.T) {
	u := open(t, upscaletest.Config{Scale: 2, Side: 32, Nearest: true})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		w, h int
		o    upscale.RunOptions
		text string
	}{
		{"tile other than the fixed size", 64, 64, upscale.RunOptions{Tile: 64}, "only takes 32x32 tiles"},
		{"overlap of half a tile", 64, 64, upscale.RunOptions{Overlap: 16}, "under half"},
		{"negative tile", 64, 64, upscale.RunOptions{Tile: -1}, "negative"},
		{"empty picture", 0, 5, upscale.RunOptions{}, "0x5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := u.UpscaleCHW(ctx, make([]float32, 3*tc.w*tc.h), tc.h, tc.w, tc.o)
			if !errors.Is(err, upscale.ErrOptions) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want ErrOptions mentioning %q", err, tc.text)
			}
		})
	}
	if _, err := upscale.Open(ctx, t.TempDir(), upscale.Options{}); err == nil || !strings.Contains(err.Error(), "no ONNX model") {
		t.Errorf("empty folder: got %v", err)
	}
}

// TestUpscaleHWC: the HWC entry point gives the CHW one's values in
// pixel-major order, clamped to [0, 1].
func TestUpscaleHWC(t *testing.T) {
	u := open(t, upscaletest.Config{Scale: 2, Side: 16, Features: 8, Layers: 2})
	const w, h = 21, 18
	chw := imageio.RGBTensor(gradient(w, h))
	hwc := make([]float32, len(chw))
	for i := 0; i < w*h; i++ {
		for c := 0; c < 3; c++ {
			hwc[3*i+c] = chw[c*w*h+i]
		}
	}
	want, err := u.UpscaleCHW(context.Background(), chw, h, w, upscale.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.UpscaleHWC(context.Background(), hwc, h, w, upscale.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plane := len(want) / 3
	clamped := 0
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			v := want[c*plane+i]
			if v < 0 || v > 1 {
				clamped++
				v = max(0, min(v, 1))
			}
			if got[3*i+c] != v {
				t.Fatalf("pixel %d channel %d: got %v, want %v", i, c, got[3*i+c], v)
			}
		}
	}
	t.Logf("%d of %d values clamped", clamped, len(want))
}

// TestGreyAndAlpha: a grey picture becomes RGB, and a translucent one
// loses its alpha without compositing, before the model sees them.
func TestGreyAndAlpha(t *testing.T) {
	u := open(t, upscaletest.Config{Scale: 2, Nearest: true})
	grey := image.NewGray(image.Rect(0, 0, 5, 4))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(40 * i)
	}
	translucent := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for i := 0; i < len(translucent.Pix); i += 4 {
		copy(translucent.Pix[i:], []uint8{uint8(i), 200, 7, uint8(i * 3)})
	}
	for _, tc := range []struct {
		name string
		img  image.Image
		want func(x, y int) color.NRGBA
	}{
		{"grey", grey, func(x, y int) color.NRGBA { v := grey.GrayAt(x, y).Y; return color.NRGBA{v, v, v, 255} }},
		{"alpha", translucent, func(x, y int) color.NRGBA { c := translucent.NRGBAAt(x, y); c.A = 255; return c }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := u.Upscale(context.Background(), tc.img, upscale.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < 8; y++ {
				for x := 0; x < 10; x++ {
					if got, want := out.NRGBAAt(x, y), tc.want(x/2, y/2); got != want {
						t.Fatalf("(%d, %d): got %v, want %v", x, y, got, want)
					}
				}
			}
		})
	}
}
