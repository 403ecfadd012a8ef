package videoio

import (
	"bytes"
	"errors"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testClip is a red square moving right on a blue background: few flat
// colours, like the moving-shapes renders.
func testClip(f, h, w int) Clip {
	c := Clip{Frames: make([]float32, f*h*w*3), F: f, H: h, W: w, FPS: 8}
	for i := range f {
		for y := range h {
			for x := range w {
				p := c.Frames[((i*h+y)*w+x)*3:]
				if y >= h/4 && y < h/2 && x >= i && x < i+h/4 {
					p[0], p[1], p[2] = 1, 0, 0
				} else {
					p[0], p[1], p[2] = 0.1, 0.2, 0.8
				}
			}
		}
	}
	return c
}

// bytesOf returns the clip as 8-bit RGB, frame after frame.
func bytesOf(c Clip) []byte {
	var out []byte
	for i := range c.F {
		out = append(out, c.rgb24(i, nil)...)
	}
	return out
}

func TestIsVideoPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"out.gif", true}, {"a/b/OUT.GIF", true}, {"x.png", true}, {"x.apng", true}, {"x.mp4", true},
		{"x.webm", true}, {"x.npy", true}, {"x.jpg", false}, {"x.jpeg", false}, {"x", false}, {"x.gif.txt", false},
	} {
		if got := IsVideoPath(tc.path); got != tc.want {
			t.Errorf("IsVideoPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestWriteBadInputLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	good := testClip(3, 8, 8)
	for _, tc := range []struct {
		name, file string
		clip       Clip
		want       error
		wantText   string
	}{
		{"jpg", "out.jpg", good, ErrNotVideo, ".jpg"},
		{"no extension", "out", good, ErrNotVideo, ".gif"},
		{"short frames", "out.gif", Clip{Frames: good.Frames[:10], F: 3, H: 8, W: 8, FPS: 8}, ErrBadClip, "want 576"},
		{"zero fps", "out.png", Clip{Frames: good.Frames, F: 3, H: 8, W: 8}, ErrBadClip, "FPS"},
		{"zero frames", "out.npy", Clip{F: 0, H: 8, W: 8, FPS: 8}, ErrBadClip, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(filepath.Join(dir, tc.file), tc.clip)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Write: got %v, want %v mentioning %q", err, tc.want, tc.wantText)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files, first %s", len(entries), entries[0].Name())
	}
}

func TestWriteNoFFmpeg(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir) // an empty folder: no ffmpeg
	for _, ext := range []string{".mp4", ".webm"} {
		path := filepath.Join(dir, "out"+ext)
		err := Write(path, testClip(2, 8, 8))
		if !errors.Is(err, ErrNoFFmpeg) || !strings.Contains(err.Error(), "ffmpeg") || !strings.Contains(err.Error(), ".gif") {
			t.Errorf("Write %s: got %v, want ErrNoFFmpeg naming ffmpeg and .gif", ext, err)
		}
		if err := CheckPath(path); !errors.Is(err, ErrNoFFmpeg) {
			t.Errorf("CheckPath %s: got %v, want ErrNoFFmpeg", ext, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}

func TestNPYRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.npy")
	c := testClip(4, 6, 10)
	c.Frames[5] = 0.123456
	if err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.F != 4 || got.H != 6 || got.W != 10 {
		t.Fatalf("shape: got %d %d %d, want 4 6 10", got.F, got.H, got.W)
	}
	for i := range c.Frames {
		if got.Frames[i] != c.Frames[i] {
			t.Fatalf("value %d: got %v, want %v", i, got.Frames[i], c.Frames[i])
		}
	}
}

func TestWriteFrames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "frames")
	c := testClip(3, 8, 12)
	if err := WriteFrames(dir, c); err != nil {
		t.Fatal(err)
	}
	want := bytesOf(c)
	for i := range c.F {
		f, err := os.Open(filepath.Join(dir, []string{"frame_0000.png", "frame_0001.png", "frame_0002.png"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for y := range c.H {
			for x := range c.W {
				r, g, b, _ := img.At(x, y).RGBA()
				p := want[((i*c.H+y)*c.W+x)*3:]
				if uint8(r>>8) != p[0] || uint8(g>>8) != p[1] || uint8(b>>8) != p[2] {
					t.Fatalf("frame %d pixel (%d,%d): got %d %d %d, want %v", i, x, y, r>>8, g>>8, b>>8, p[:3])
				}
			}
		}
	}
}

func TestGIFExactPalette(t *testing.T) {
	c := testClip(5, 16, 16)
	c.FPS = 8
	var buf bytes.Buffer
	if err := EncodeGIF(&buf, c); err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 5 || g.LoopCount != 0 {
		t.Fatalf("got %d frames loop %d, want 5 frames loop 0 (forever)", len(g.Image), g.LoopCount)
	}
	want := bytesOf(c)
	for i, img := range g.Image {
		if g.Delay[i] != 13 {
			t.Errorf("frame %d delay: got %d, want 13 (100/8 rounded)", i, g.Delay[i])
		}
		for y := range c.H {
			for x := range c.W {
				r, gg, b, _ := img.At(x, y).RGBA()
				p := want[((i*c.H+y)*c.W+x)*3:]
				if uint8(r>>8) != p[0] || uint8(gg>>8) != p[1] || uint8(b>>8) != p[2] {
					t.Fatalf("frame %d pixel (%d,%d): got %d %d %d, want %v", i, x, y, r>>8, gg>>8, b>>8, p[:3])
				}
			}
		}
	}
}

func TestGIFMedianCut(t *testing.T) {
	// A gradient of 32*32*2 = 2048 colours over two frames, more than a
	// GIF palette holds: each pixel must land near its colour, and a flat
	// area must stay one index (no dithering).
	const h, w = 32, 32
	c := Clip{Frames: make([]float32, 2*h*w*3), F: 2, H: h, W: w, FPS: 10}
	for i := range 2 {
		for y := range h {
			for x := range w {
				p := c.Frames[((i*h+y)*w+x)*3:]
				p[0], p[1], p[2] = float32(x)/31, float32(y)/31, float32(i)
				if y < 4 { // a flat band
					p[0], p[1], p[2] = 0.5, 0.5, 0.5
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := EncodeGIF(&buf, c); err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := bytesOf(c)
	for i, img := range g.Image {
		if len(img.Palette) > 256 {
			t.Fatalf("palette of %d colours", len(img.Palette))
		}
		flat := img.Pix[0]
		for y := range h {
			for x := range w {
				if y < 4 && img.Pix[y*img.Stride+x] != flat {
					t.Fatalf("frame %d: flat band dithered at (%d,%d)", i, x, y)
				}
				r, gg, b, _ := img.At(x, y).RGBA()
				p := want[((i*h+y)*w+x)*3:]
				for ch, v := range []uint32{r >> 8, gg >> 8, b >> 8} {
					if d := int(v) - int(p[ch]); d > 24 || d < -24 {
						t.Fatalf("frame %d pixel (%d,%d) channel %d: got %d, want %d ± 24", i, x, y, ch, v, p[ch])
					}
				}
			}
		}
	}
}

func TestGIFDelay(t *testing.T) {
	for _, tc := range []struct {
		fps  float64
		want int
	}{{8, 13}, {10, 10}, {25, 4}, {30, 3}, {60, 2}, {100, 2}, {1, 100}, {0.5, 200}} {
		if got := GIFDelay(tc.fps); got != tc.want {
			t.Errorf("GIFDelay(%v) = %d, want %d", tc.fps, got, tc.want)
		}
	}
}

func TestAtomicReplaceOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clip.gif")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, Clip{F: 2, H: 4, W: 4, FPS: 8, Frames: make([]float32, 5)}); !errors.Is(err, ErrBadClip) {
		t.Fatalf("got %v, want ErrBadClip", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file changed to %q after a failed write", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in dir after a failed write, want 1", len(entries))
	}
}

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg): skipping the ffmpeg cross-check")
	}
	return p
}

// ffmpegDecode decodes path to raw rgb24 frames with ffmpeg.
func ffmpegDecode(t *testing.T, bin, path string) []byte {
	t.Helper()
	out, err := exec.Command(bin, "-hide_banner", "-loglevel", "error", "-i", path, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", path, err)
	}
	return out
}

func TestFFmpegReadsOurFiles(t *testing.T) {
	bin := needFFmpeg(t)
	c := testClip(6, 16, 20)
	want := bytesOf(c)
	dir := t.TempDir()
	for _, tc := range []struct {
		ext  string
		tol  int // lossy codecs: largest per-channel error allowed
		size int // bytes of one decoded frame
	}{
		{".png", 0, 16 * 20 * 3},
		{".gif", 0, 16 * 20 * 3},
		{".mp4", 40, 16 * 20 * 3},
		{".webm", 40, 16 * 20 * 3},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			path := filepath.Join(dir, "clip"+tc.ext)
			if err := Write(path, c); err != nil {
				t.Fatal(err)
			}
			got := ffmpegDecode(t, bin, path)
			if len(got) != c.F*tc.size {
				t.Fatalf("ffmpeg decoded %d bytes, want %d frames × %d", len(got), c.F, tc.size)
			}
			// Compare away from the square's edges, where chroma
			// subsampling smears lossy codecs.
			bad := 0
			for i, v := range got {
				d := int(v) - int(want[i])
				if d < 0 {
					d = -d
				}
				if d > tc.tol {
					bad++
				}
			}
			if limit := len(got) / 20; tc.tol == 0 && bad > 0 || bad > limit {
				t.Errorf("%d of %d bytes off by more than %d", bad, len(got), tc.tol)
			}
		})
	}
}

func TestFFmpegOddSizeIsPadded(t *testing.T) {
	bin := needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "odd.mp4")
	if err := Write(path, testClip(3, 15, 17)); err != nil {
		t.Fatal(err)
	}
	got := ffmpegDecode(t, bin, path)
	if want := 3 * 16 * 18 * 3; len(got) != want {
		t.Errorf("decoded %d bytes, want %d (3 frames of 18x16 after padding)", len(got), want)
	}
}
