package videoio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/imageio"
)

// Clip is a video: Frames float32 [F, H, W, 3] in [0, 1], frame-major.
// FPS is the playback rate; the timed formats (.gif, .png, .mp4, .webm)
// need it positive, .npy and WriteFrames ignore it.
type Clip struct {
	Frames  []float32
	F, H, W int
	FPS     float64
}

// ErrNotVideo is returned (wrapped) by Write for an extension that cannot
// hold video (e.g. .jpg); the message names the extension and lists the
// supported ones.
var ErrNotVideo = errors.New("videoio: output format cannot hold video")

// ErrNoFFmpeg is returned (wrapped) by Write for .mp4 and .webm when
// ffmpeg is not on PATH; the message suggests .gif or .png instead.
var ErrNoFFmpeg = errors.New("videoio: ffmpeg not found on PATH (needed for .mp4 and .webm; install ffmpeg, or write .gif or .png, which need nothing)")

// ErrBadClip is returned (wrapped) for a clip whose sizes do not match its
// frame data, or whose FPS is not a positive number where one is needed.
var ErrBadClip = errors.New("videoio: bad clip")

// Extensions lists the file extensions Write accepts, in the order the
// error messages name them.
var extensions = []string{".gif", ".png", ".apng", ".mp4", ".webm", ".npy"}

// IsVideoPath reports whether the extension of path can hold video (for
// early flag checks, before any generation runs). The test ignores case.
func IsVideoPath(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	for _, e := range extensions {
		if ext == e {
			return true
		}
	}
	return false
}

// CheckPath returns nil when Write can write path's format on this
// machine: ErrNotVideo for an extension that cannot hold video and
// ErrNoFFmpeg for .mp4/.webm without ffmpeg. Call it before generating.
func CheckPath(path string) error {
	if !IsVideoPath(path) {
		return notVideo(path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mp4", ".webm":
		if _, err := findFFmpeg(); err != nil {
			return err
		}
	}
	return nil
}

func notVideo(path string) error {
	ext := filepath.Ext(path)
	if ext == "" {
		ext = "(none)"
	}
	return fmt.Errorf("%w: extension %s of %s; supported: %s", ErrNotVideo, ext, path, strings.Join(extensions, ", "))
}

// Write writes c to path, the format chosen by the extension: .gif
// (animated GIF), .png or .apng (APNG), .mp4 / .webm (through ffmpeg),
// .npy (float32 [F,H,W,3]). Atomic: temp file + rename; nothing
// half-written on error.
func Write(path string, c Clip) error {
	if !IsVideoPath(path) {
		return notVideo(path)
	}
	ext := strings.ToLower(filepath.Ext(path))
	timed := ext != ".npy"
	if err := c.validate(timed); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	switch ext {
	case ".gif":
		return imageio.WriteFileAtomic(path, func(w io.Writer) error { return EncodeGIF(w, c) })
	case ".png", ".apng":
		return imageio.WriteFileAtomic(path, func(w io.Writer) error { return EncodeAPNG(w, c) })
	case ".mp4", ".webm":
		return writeFFmpeg(path, ext[1:], c)
	default: // ".npy"
		return imageio.SaveNPY(path, []int{c.F, c.H, c.W, 3}, c.Frames)
	}
}

// WriteFrames writes numbered PNGs (frame_0000.png …) into dir (created if
// missing). Each file is written atomically.
func WriteFrames(dir string, c Clip) error {
	if err := c.validate(false); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("videoio: frames dir: %w", err)
	}
	for i := range c.F {
		name := filepath.Join(dir, fmt.Sprintf("frame_%04d.png", i))
		if err := imageio.WritePNG(name, c.Frame(i), imageio.Metadata{}); err != nil {
			return err
		}
	}
	return nil
}

// LoadNPY reads a clip written as .npy float32 [F, H, W, 3]; FPS is left
// zero (the file does not store it).
func LoadNPY(path string) (Clip, error) {
	shape, data, err := imageio.LoadNPY(path)
	if err != nil {
		return Clip{}, err
	}
	if len(shape) != 4 || shape[3] != 3 {
		return Clip{}, fmt.Errorf("%w: %s has shape %v, want [F, H, W, 3]", ErrBadClip, path, shape)
	}
	c := Clip{Frames: data, F: shape[0], H: shape[1], W: shape[2]}
	if err := c.validate(false); err != nil {
		return Clip{}, fmt.Errorf("%w (reading %s)", err, path)
	}
	return c, nil
}

// Frame returns frame i as an opaque 8-bit image, values mapped to bytes
// as imageio.ToUint8 does (round half to even, clamped).
func (c Clip) Frame(i int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, c.W, c.H))
	src := c.Frames[i*c.H*c.W*3 : (i+1)*c.H*c.W*3]
	for p := range c.H * c.W {
		img.Pix[4*p] = imageio.ToUint8(src[3*p])
		img.Pix[4*p+1] = imageio.ToUint8(src[3*p+1])
		img.Pix[4*p+2] = imageio.ToUint8(src[3*p+2])
		img.Pix[4*p+3] = 255
	}
	return img
}

// rgb24 returns frame i as packed 8-bit RGB rows, the layout of PNG
// scanlines and of ffmpeg's rgb24 raw video.
func (c Clip) rgb24(i int, dst []byte) []byte {
	src := c.Frames[i*c.H*c.W*3 : (i+1)*c.H*c.W*3]
	dst = dst[:0]
	for _, v := range src {
		dst = append(dst, imageio.ToUint8(v))
	}
	return dst
}

func (c Clip) validate(timed bool) error {
	if c.F <= 0 || c.H <= 0 || c.W <= 0 {
		return fmt.Errorf("%w: sizes F=%d H=%d W=%d must be positive", ErrBadClip, c.F, c.H, c.W)
	}
	if c.H > 1<<14 || c.W > 1<<14 || c.F > 1<<16 {
		return fmt.Errorf("%w: sizes F=%d H=%d W=%d too large", ErrBadClip, c.F, c.H, c.W)
	}
	if want := c.F * c.H * c.W * 3; len(c.Frames) != want {
		return fmt.Errorf("%w: %d values for [%d, %d, %d, 3], want %d", ErrBadClip, len(c.Frames), c.F, c.H, c.W, want)
	}
	if timed && (!(c.FPS > 0) || math.IsInf(c.FPS, 0)) {
		return fmt.Errorf("%w: FPS %v must be a positive number", ErrBadClip, c.FPS)
	}
	return nil
}

// FromImages makes a clip of equally sized frames, each pixel's RGB mapped
// to [0, 1] (alpha is ignored, as the writers ignore it).
func FromImages(frames []image.Image, fps float64) (Clip, error) {
	if len(frames) == 0 || frames[0] == nil {
		return Clip{}, fmt.Errorf("%w: no frames", ErrBadClip)
	}
	b0 := frames[0].Bounds()
	c := Clip{F: len(frames), H: b0.Dy(), W: b0.Dx(), FPS: fps}
	c.Frames = make([]float32, 0, c.F*c.H*c.W*3)
	for i, img := range frames {
		if img == nil || img.Bounds().Dx() != c.W || img.Bounds().Dy() != c.H {
			return Clip{}, fmt.Errorf("%w: frame %d is not %dx%d like frame 0", ErrBadClip, i, c.W, c.H)
		}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				n := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				c.Frames = append(c.Frames, float32(n.R)/255, float32(n.G)/255, float32(n.B)/255)
			}
		}
	}
	return c, nil
}
