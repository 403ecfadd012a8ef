package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/videoio"
)

// videoFlags are generate's flags for video checkpoints (SVD,
// AnimateDiff).
func videoFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "frames", Usage: "frames per clip (video models; default: the model's)"},
		&cli.Float64Flag{Name: "fps", Usage: "clip frame rate (video models; default 7 for SVD, which is conditioned on it, 8 for AnimateDiff)"},
		&cli.IntFlag{Name: "motion-bucket", Usage: "SVD's motion_bucket_id: more motion when higher (default 127)"},
		&cli.Float64Flag{Name: "noise-aug", Usage: "SVD's noise_aug_strength: noise added to the --init-image frame (default 0.02)"},
		&cli.Float64Flag{Name: "min-guidance", Usage: "SVD's guidance on the first frame, rising to --guidance on the last (default 1)"},
		&cli.IntFlag{Name: "decode-chunk", Usage: "frames the VAE decodes per call, to bound its memory (default: all of a clip's for SVD, 16 for AnimateDiff)"},
		&cli.StringFlag{Name: "frames-dir", Usage: "also write each clip's frames as numbered PNGs into `DIR` (DIR/clip-N/ for several clips)"},
	}
}

// videoFlagNames lists the set video flags, for the errors of picture
// models.
func videoFlagNames(c *cli.Context) []string {
	var set []string
	for _, f := range videoFlags() {
		if name := f.Names()[0]; c.IsSet(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

// videoRequestFlags copies the video flags into req, refusing values out
// of range.
func videoRequestFlags(c *cli.Context, req *pipeline.Request) error {
	if c.IsSet("frames") {
		if req.Frames = c.Int("frames"); req.Frames < 1 {
			return fmt.Errorf("generate: --frames must be at least 1, got %d", req.Frames)
		}
	}
	if c.IsSet("fps") {
		if req.FPS = c.Float64("fps"); !(req.FPS > 0) {
			return fmt.Errorf("generate: --fps must be positive, got %g", req.FPS)
		}
	}
	if c.IsSet("decode-chunk") {
		if req.DecodeChunk = c.Int("decode-chunk"); req.DecodeChunk < 1 {
			return fmt.Errorf("generate: --decode-chunk must be at least 1, got %d", req.DecodeChunk)
		}
	}
	if c.IsSet("motion-bucket") {
		m := c.Int("motion-bucket")
		if m < 0 {
			return fmt.Errorf("generate: --motion-bucket must be 0 or more, got %d", m)
		}
		req.MotionBucket = &m
	}
	if c.IsSet("noise-aug") {
		a := c.Float64("noise-aug")
		if !(a >= 0) {
			return fmt.Errorf("generate: --noise-aug must be 0 or more, got %g", a)
		}
		req.NoiseAug = &a
	}
	if c.IsSet("min-guidance") {
		g := c.Float64("min-guidance")
		req.MinGuidance = &g
	}
	return nil
}

// isVideoFamily reports whether f makes clips.
func isVideoFamily(f pipeline.Family) bool {
	return f == pipeline.FamilySVD || f == pipeline.FamilyAnimateDiff
}

// checkOutputKind refuses, once the model is loaded and before it runs, an
// output that cannot hold what the model makes: a picture format for a
// video model, a video format or video flags for a picture model.
func checkOutputKind(c *cli.Context, out string, fam pipeline.Family) error {
	if isVideoFamily(fam) {
		if err := videoio.CheckPath(out); err != nil {
			return fmt.Errorf("generate: the %s model makes clips: %w", fam, err)
		}
		if c.IsSet("c2pa-key") {
			return fmt.Errorf("generate: --c2pa-key signs PNG pictures; the %s model makes clips", fam)
		}
		return nil
	}
	if set := videoFlagNames(c); len(set) > 0 {
		return fmt.Errorf("generate: %s apply to video models (SVD, AnimateDiff); the %s model makes pictures", strings.Join(set, ", "), fam)
	}
	if ext := strings.ToLower(filepath.Ext(out)); ext != ".png" && ext != ".npy" {
		return fmt.Errorf("generate: output %s: the %s model makes pictures; want a .png or .npy file name", out, fam)
	}
	return nil
}

// writeClips writes each clip of a video result to out (numbered when
// there are several) and, with framesDir, its frames as numbered PNGs.
// On failure nothing written by this call is left behind.
func writeClips(out, framesDir string, res *pipeline.Result) ([]string, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	per := res.Frames * res.H * res.W * 3
	clip := func(i int) videoio.Clip {
		return videoio.Clip{Frames: res.Images[i*per : (i+1)*per], F: res.Frames, H: res.H, W: res.W, FPS: res.FPS}
	}
	names := numbered(out, res.N)
	for i := range names {
		if err := videoio.Write(names[i], clip(i)); err != nil {
			removeAll(names[:i])
			return nil, err
		}
	}
	if framesDir == "" {
		return names, nil
	}
	paths := append([]string(nil), names...)
	var created []string
	for i := range res.N {
		dir := framesDir
		if res.N > 1 {
			dir = filepath.Join(framesDir, fmt.Sprintf("clip-%d", i+1))
		}
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			created = append(created, dir)
		}
		if err := videoio.WriteFrames(dir, clip(i)); err != nil {
			removeAll(names)
			for _, d := range created {
				os.RemoveAll(d)
			}
			return nil, err
		}
		paths = append(paths, dir)
	}
	return paths, nil
}
