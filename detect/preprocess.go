package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"os"

	xdraw "golang.org/x/image/draw"
)

// Preprocess is how a classifier wants its pixels: transformers'
// preprocessor_config.json of an image processor (ViT, Swin, ConvNeXt,
// …), the fields this package reads. Zero values mean: resize the
// shorter side to the model's input height, center-crop to its input
// size, scale bytes to [0, 1] and no normalization (what
// Deckard618/imdet's model card says its exports want).
type Preprocess struct {
	DoResize      *bool     `json:"do_resize"`
	Size          sizeField `json:"size"`
	Resample      *int      `json:"resample"`
	DoCenterCrop  *bool     `json:"do_center_crop"`
	CropSize      sizeField `json:"crop_size"`
	DoRescale     *bool     `json:"do_rescale"`
	RescaleFactor *float64  `json:"rescale_factor"`
	DoNormalize   *bool     `json:"do_normalize"`
	ImageMean     []float64 `json:"image_mean"`
	ImageStd      []float64 `json:"image_std"`
}

// sizeField decodes transformers' size forms: an int, {"height",
// "width"} or {"shortest_edge"}.
type sizeField struct {
	Height, Width, ShortestEdge int
}

func (s *sizeField) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		s.Height, s.Width = n, n
		return nil
	}
	var m struct {
		Height       int `json:"height"`
		Width        int `json:"width"`
		ShortestEdge int `json:"shortest_edge"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("size: want an int or {height, width} or {shortest_edge}: %w", err)
	}
	s.Height, s.Width, s.ShortestEdge = m.Height, m.Width, m.ShortestEdge
	return nil
}

func (s sizeField) set() bool { return s.Height > 0 || s.Width > 0 || s.ShortestEdge > 0 }

// maxPreprocessSide bounds the sizes a preprocessor_config.json may ask
// for, so a bad file fails instead of allocating gigabytes.
const maxPreprocessSide = 4096

// readPreprocess reads path; a missing file gives the zero Preprocess.
func readPreprocess(path string) (Preprocess, error) {
	var p Preprocess
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("detect: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("detect: %s: %w", path, err)
	}
	if len(p.ImageMean) != len(p.ImageStd) || (len(p.ImageMean) != 0 && len(p.ImageMean) != 3) {
		return p, fmt.Errorf("detect: %s: image_mean and image_std want 3 values each, got %d and %d", path, len(p.ImageMean), len(p.ImageStd))
	}
	for _, f := range []sizeField{p.Size, p.CropSize} {
		if f.Height < 0 || f.Width < 0 || f.ShortestEdge < 0 || max(f.Height, f.Width, f.ShortestEdge) > maxPreprocessSide {
			return p, fmt.Errorf("detect: %s: size %+v: want sides from 1 to %d", path, f, maxPreprocessSide)
		}
	}
	for _, s := range p.ImageStd {
		if s <= 0 {
			return p, fmt.Errorf("detect: %s: image_std %v has a value ≤ 0", path, p.ImageStd)
		}
	}
	return p, nil
}

func orTrue(b *bool) bool { return b == nil || *b }

// tensor turns img into CHW float32 values of an h x w input.
func (p Preprocess) tensor(img image.Image, h, w int) []float32 {
	src := toRGBA(img)
	if orTrue(p.DoResize) {
		rh, rw := p.resizeTo(src.Bounds().Dx(), src.Bounds().Dy(), h, w)
		src = resize(src, rw, rh, p.kernel())
	}
	crop := !p.Size.set() || p.Size.ShortestEdge > 0 || (p.DoCenterCrop != nil && *p.DoCenterCrop)
	if crop || src.Bounds().Dx() != w || src.Bounds().Dy() != h {
		// The model's size wins over the config's crop_size: a mismatch
		// would fail in ONNX Runtime anyway.
		src = centerCrop(src, w, h)
	}
	scale := 1.0 / 255
	if p.DoRescale != nil && !*p.DoRescale {
		scale = 1
	} else if p.RescaleFactor != nil {
		scale = *p.RescaleFactor
	}
	normalize := len(p.ImageMean) == 3 && (p.DoNormalize == nil || *p.DoNormalize)
	out := make([]float32, 3*h*w)
	for y := range h {
		for x := range w {
			px := src.Pix[y*src.Stride+4*x:]
			for c := range 3 {
				v := float64(px[c]) * scale
				if normalize {
					v = (v - p.ImageMean[c]) / p.ImageStd[c]
				}
				out[c*h*w+y*w+x] = float32(v)
			}
		}
	}
	return out
}

// resizeTo returns the size to resize a sw x sh picture to before the
// crop: the config's size, or the shorter side scaled to its shortest
// edge (the model's input side when the config has no size).
func (p Preprocess) resizeTo(sw, sh, h, w int) (int, int) {
	if p.Size.Height > 0 && p.Size.Width > 0 {
		return p.Size.Height, p.Size.Width
	}
	edge := p.Size.ShortestEdge
	if edge == 0 {
		edge = max(h, w)
	}
	if sw < sh {
		return max(1, (sh*edge+sw/2)/sw), edge
	}
	return edge, max(1, (sw*edge+sh/2)/sh)
}

// kernel maps PIL's resample codes (0 nearest, 2 bilinear, 3 bicubic,
// 1 Lanczos) to x/image/draw's; bilinear when unset.
func (p Preprocess) kernel() xdraw.Interpolator {
	if p.Resample == nil {
		return xdraw.BiLinear
	}
	switch *p.Resample {
	case 0:
		return xdraw.NearestNeighbor
	case 3, 1:
		return xdraw.CatmullRom
	default:
		return xdraw.BiLinear
	}
}

func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	// Composite over opaque black is what PIL's convert("RGB") keeps of
	// premultiplied color; pictures here are opaque anyway.
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

func resize(src *image.RGBA, w, h int, k xdraw.Interpolator) *image.RGBA {
	if src.Bounds().Dx() == w && src.Bounds().Dy() == h {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	k.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}

// centerCrop cuts the central w x h of src, padding with black where src
// is smaller (as transformers' center_crop pads).
func centerCrop(src *image.RGBA, w, h int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	off := image.Pt((b.Dx()-w)/2, (b.Dy()-h)/2)
	draw.Draw(dst, dst.Bounds(), src, b.Min.Add(off), draw.Src)
	return dst
}
