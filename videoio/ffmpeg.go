package videoio

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func findFFmpeg() (string, error) {
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", ErrNoFFmpeg
	}
	return p, nil
}

// writeFFmpeg encodes c with ffmpeg into path, format "mp4" (H.264,
// yuv420p) or "webm" (VP9, yuv420p). Raw rgb24 frames are piped to
// ffmpeg's stdin. yuv420p needs even sizes, so an odd width or height is
// padded by one black column or row on the right or bottom (not scaled).
// ffmpeg writes a temporary file beside path that is renamed into place
// only when it succeeds.
func writeFFmpeg(path, format string, c Clip) (err error) {
	bin, err := findFFmpeg()
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("videoio: write %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", c.W, c.H),
		"-r", strconv.FormatFloat(c.FPS, 'g', -1, 64), "-i", "pipe:0",
		"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0:black", "-pix_fmt", "yuv420p"}
	if format == "mp4" {
		args = append(args, "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-movflags", "+faststart", "-f", "mp4")
	} else {
		args = append(args, "-c:v", "libvpx-vp9", "-crf", "30", "-b:v", "0", "-f", "webm")
	}
	args = append(args, tmp)
	var raw bytes.Buffer
	buf := make([]byte, 0, c.H*c.W*3)
	for i := range c.F {
		buf = c.rgb24(i, buf)
		raw.Write(buf)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = &raw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("videoio: ffmpeg encoding %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("videoio: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("videoio: write %s: %w", path, err)
	}
	return nil
}
