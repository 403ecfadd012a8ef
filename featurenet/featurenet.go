package featurenet

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/imagegen/imagegen/ort"
)

//go:embed featurenet.onnx
var model []byte

const (
	// Dim is the length of a feature vector.
	Dim = 128
	// Size is the side in pixels of the pictures the network reads.
	Size = 32
	// batchSize is how many pictures one ONNX Runtime run takes.
	batchSize = 64
)

// ErrImageSize is returned (wrapped) by Net.Features for a picture that is
// not square with a side that is a multiple of Size.
var ErrImageSize = errors.New("featurenet: unsupported picture size")

// Net is the feature network opened in ONNX Runtime. Its methods may be
// called from several goroutines (the session runs one batch at a time).
type Net struct {
	sess *ort.Session
}

// Model returns the embedded ONNX model (input "sample" float32
// [batch,3,32,32] in [-1, 1], output "features" [batch,Dim]), for callers
// that run it themselves. It is a copy: the embedded bytes stay as they
// are.
func Model() []byte { return bytes.Clone(model) }

// Open opens the embedded network with opts. ONNX Runtime must be
// initialized first (ort.Init).
func Open(opts ort.Options) (*Net, error) {
	sess, err := ort.OpenBytes("featurenet", model, opts)
	if err != nil {
		return nil, fmt.Errorf("featurenet: open: %w", err)
	}
	return &Net{sess: sess}, nil
}

// Close releases the ONNX Runtime session.
func (n *Net) Close() error { return n.sess.Close() }

// Features returns the feature vector of each picture. Pictures are read
// as opaque RGB; a square picture whose side is k·Size is averaged over
// k×k boxes down to Size first (a 64x64 shapes picture gives nearly, not
// exactly, the features of the same seed drawn at 32x32). Any other size
// is ErrImageSize.
func (n *Net) Features(ctx context.Context, imgs []image.Image) ([][]float64, error) {
	out := make([][]float64, 0, len(imgs))
	for i0 := 0; i0 < len(imgs); i0 += batchSize {
		batch := imgs[i0:min(len(imgs), i0+batchSize)]
		feats, err := n.run(ctx, i0, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, feats...)
	}
	return out, nil
}

// run computes the features of at most batchSize pictures, the first of
// which is picture first of the caller's list (for error messages).
func (n *Net) run(ctx context.Context, first int, imgs []image.Image) ([][]float64, error) {
	per := 3 * Size * Size
	in := make([]float32, len(imgs)*per)
	for k, img := range imgs {
		if err := pictureToCHW(img, in[k*per:(k+1)*per]); err != nil {
			return nil, fmt.Errorf("picture %d: %w", first+k, err)
		}
	}
	out := &ort.Tensor{Shape: []int64{int64(len(imgs)), Dim}, F32: make([]float32, len(imgs)*Dim)}
	err := n.sess.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(len(imgs)), 3, Size, Size}, F32: in}},
		map[string]*ort.Tensor{"features": out})
	if err != nil {
		return nil, fmt.Errorf("featurenet: %w", err)
	}
	feats := make([][]float64, len(imgs))
	for k := range feats {
		feats[k] = make([]float64, Dim)
		for j, v := range out.F32[k*Dim : (k+1)*Dim] {
			feats[k][j] = float64(v)
		}
	}
	return feats, nil
}

// pictureToCHW writes img as [3,Size,Size] floats in [-1, 1], averaging
// k×k boxes of a picture k·Size pixels wide.
func pictureToCHW(img image.Image, dst []float32) error {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w != h || w == 0 || w%Size != 0 {
		return fmt.Errorf("%w: %dx%d, want %dx%d or a square whose side is a multiple of %d", ErrImageSize, w, h, Size, Size, Size)
	}
	k := w / Size
	scale := 1 / (127.5 * float32(k*k))
	for y := range Size {
		for x := range Size {
			var sum [3]int
			for dy := range k {
				for dx := range k {
					r, g, bl := rgb8(img, b.Min.X+x*k+dx, b.Min.Y+y*k+dy)
					sum[0] += int(r)
					sum[1] += int(g)
					sum[2] += int(bl)
				}
			}
			for c := range 3 {
				dst[(c*Size+y)*Size+x] = float32(sum[c])*scale - 1
			}
		}
	}
	return nil
}

// rgb8 returns the 8-bit, non-premultiplied color of one pixel.
func rgb8(img image.Image, x, y int) (r, g, b uint8) {
	if m, ok := img.(*image.NRGBA); ok {
		p := m.Pix[m.PixOffset(x, y):]
		return p[0], p[1], p[2]
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return c.R, c.G, c.B
}
