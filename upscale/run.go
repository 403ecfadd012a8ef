package upscale

import (
	"context"
	"fmt"
	"image"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/tiling"
)

// RunOptions configure one upscale.
type RunOptions struct {
	// Tile is the side of the square tiles, in input pixels, that a
	// dynamic model runs on (0 = the whole picture at once). Fixed-size
	// models always run on tiles of their input size; a different Tile is
	// an error.
	Tile int
	// Overlap is how many input pixels neighbouring tiles share (0 = an
	// eighth of the tile side). It must be under half the tile side.
	Overlap int
	// Progress, when set, is called after each tile (a diffusion stage's
	// denoising step).
	Progress func(Progress)
	// Seed seeds a diffusion stage's noise (the input's augmentation and
	// the initial sample); Steps overrides its denoising steps and
	// NoiseLevel its augmentation level (0 and nil: its own settings).
	// Other upscalers ignore them.
	Seed       uint64
	Steps      int
	NoiseLevel *int
}

// Progress reports the tiles (a diffusion stage's steps) of one picture
// done so far.
type Progress struct {
	Done, Total int
}

// Upscale converts img to RGB (alpha dropped, grey repeated), upscales it
// and returns the opaque result, Scale times img's size.
func (u *Upscaler) Upscale(ctx context.Context, img image.Image, o RunOptions) (*image.NRGBA, error) {
	b := img.Bounds()
	out, err := u.UpscaleCHW(ctx, imageio.RGBTensor(img), b.Dy(), b.Dx(), o)
	if err != nil {
		return nil, err
	}
	imgs, err := imageio.ToNRGBA(out, []int{1, 3, b.Dy() * u.scale, b.Dx() * u.scale}, imageio.NCHW, imageio.Unit)
	if err != nil {
		return nil, err
	}
	return imgs[0], nil
}

// UpscaleCHW upscales x, a [3, h, w] picture in [0, 1], and returns the
// [3, Scale·h, Scale·w] output as the model gives it (not clamped).
func (u *Upscaler) UpscaleCHW(ctx context.Context, x []float32, h, w int, o RunOptions) ([]float32, error) {
	if h < 1 || w < 1 || len(x) != 3*h*w {
		return nil, fmt.Errorf("upscale: %w: a %dx%d RGB picture needs %d values, got %d", ErrOptions, w, h, 3*max(h, 0)*max(w, 0), len(x))
	}
	if u.stage != nil {
		return u.stage.run(ctx, u, x, h, w, o)
	}
	tileH, tileW, overlap, err := u.tiles(h, w, o)
	if err != nil {
		return nil, err
	}
	// A picture smaller than a fixed tile is padded up to it by
	// reflection, and the padding's output cropped afterwards.
	ph, pw := max(h, tileH), max(w, tileW)
	in := x
	if ph != h || pw != w {
		in = reflectPad(x, 3, h, w, ph, pw)
	}
	spec := tiling.Spec{Session: u.sess, Input: u.input, Output: u.output, C: 3, H: ph, W: pw,
		Num: u.scale, Den: 1, TileH: tileH, TileW: tileW, Overlap: overlap}
	if o.Progress != nil {
		spec.Progress = func(done, total int) { o.Progress(Progress{Done: done, Total: total}) }
	}
	out, c, err := spec.Run(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("upscale: %s: %w", u.name, err)
	}
	if c != 3 {
		return nil, fmt.Errorf("upscale: %w: %s gave %d output channels, want 3", ErrNotUpscaler, u.name, c)
	}
	if ph != h || pw != w {
		out = crop(out, 3, ph*u.scale, pw*u.scale, h*u.scale, w*u.scale)
	}
	return out, nil
}

// tiles returns the tile size and overlap of an upscale of an h×w
// picture.
func (u *Upscaler) tiles(h, w int, o RunOptions) (tileH, tileW, overlap int, err error) {
	if o.Tile < 0 || o.Overlap < 0 {
		return 0, 0, 0, fmt.Errorf("upscale: %w: tile %d and overlap %d must not be negative", ErrOptions, o.Tile, o.Overlap)
	}
	tileH, tileW = u.fixedH, u.fixedW
	if o.Tile > 0 && ((tileH > 0 && o.Tile != tileH) || (tileW > 0 && o.Tile != tileW)) {
		return 0, 0, 0, fmt.Errorf("upscale: %w: tile %d: the model only takes %dx%d tiles (its fixed input size)", ErrOptions, o.Tile, u.fixedW, u.fixedH)
	}
	if tileH == 0 {
		tileH = h
		if o.Tile > 0 {
			tileH = min(o.Tile, h)
		}
	}
	if tileW == 0 {
		tileW = w
		if o.Tile > 0 {
			tileW = min(o.Tile, w)
		}
	}
	side := min(tileH, tileW)
	overlap = o.Overlap
	if overlap == 0 {
		overlap = side / 8
	}
	if 2*overlap >= side && (tileH < h || tileW < w) {
		return 0, 0, 0, fmt.Errorf("upscale: %w: overlap %d: want under half the %dx%d tile", ErrOptions, overlap, tileW, tileH)
	}
	return tileH, tileW, overlap, nil
}

// reflectPad returns x, c×h×w, padded after its last row and column to
// c×ph×pw by reflection about the edge pixels (numpy's "reflect"),
// repeated as often as needed.
func reflectPad(x []float32, c, h, w, ph, pw int) []float32 {
	out := make([]float32, c*ph*pw)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < ph; y++ {
			src := x[(ch*h+reflect(y, h))*w:][:w]
			dst := out[(ch*ph+y)*pw:][:pw]
			for i := range dst {
				dst[i] = src[reflect(i, w)]
			}
		}
	}
	return out
}

// reflect maps i ≥ 0 into [0, n) by reflecting about 0 and n-1.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i >= n {
		i = period - i
	}
	return i
}

// crop returns the top-left c×h×w corner of x, c×xh×xw.
func crop(x []float32, c, xh, xw, h, w int) []float32 {
	out := make([]float32, 0, c*h*w)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			out = append(out, x[(ch*xh+y)*xw:][:w]...)
		}
	}
	return out
}

// UpscaleHWC upscales x, an [h, w, 3] picture in [0, 1] (a picture of
// diffusers' output_type="np", as pipeline.Result holds them), and
// returns the [Scale·h, Scale·w, 3] output clamped to [0, 1], as
// Real-ESRGAN's inference script clamps it, so it can stand in for the
// original.
func (u *Upscaler) UpscaleHWC(ctx context.Context, x []float32, h, w int, o RunOptions) ([]float32, error) {
	if h < 1 || w < 1 || len(x) != 3*h*w {
		return nil, fmt.Errorf("upscale: %w: a %dx%d RGB picture needs %d values, got %d", ErrOptions, w, h, 3*max(h, 0)*max(w, 0), len(x))
	}
	chw := make([]float32, len(x))
	plane := h * w
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			chw[c*plane+i] = x[3*i+c]
		}
	}
	out, err := u.UpscaleCHW(ctx, chw, h, w, o)
	if err != nil {
		return nil, err
	}
	plane = len(out) / 3
	hwc := make([]float32, len(out))
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			hwc[3*i+c] = clamp01(out[c*plane+i])
		}
	}
	return hwc, nil
}

// clamp01 limits v to [0, 1] (NaN becomes 0).
func clamp01(v float32) float32 {
	if !(v > 0) {
		return 0
	}
	return min(v, 1)
}
