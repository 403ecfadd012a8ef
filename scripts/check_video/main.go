// Command check_video runs the motion checker (evaluate.CheckMotion) over
// clips saved as .npy float32 [F, H, W, 3] in [0, 1] — what `imagegen
// generate -o out.npy` writes for a video model — and prints the table:
//
//	go run ./scripts/check_video -dir DIR
//
// DIR holds the clips (*.npy, taken in name order) and their captions,
// either one NAME.txt beside each NAME.npy or one prompts.txt with a
// caption a line, in the clips' order. -v also prints each clip that
// failed a check and why.
//
// Without -dir it measures the moving-shapes dataset itself on held-out
// clips, the figures the README quotes: the ground truth; the same clips
// blurred (3x3 box) with noise (σ 8 levels), as a model might draw them;
// played backwards; and with each shape's color, or class, swapped
// halfway:
//
//	go run ./scripts/check_video -n 300 -size 32 -frames 16
//
// -write DIR saves those held-out clips as 000.npy … with prompts.txt (and
// 000.gif … with -gif), the input the first form reads.
package main

import (
	"flag"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

func main() {
	dir := flag.String("dir", "", "folder of .npy clips with NAME.txt captions or prompts.txt")
	n := flag.Int("n", 300, "held-out dataset clips to measure (without -dir)")
	size := flag.Int("size", 32, "frame side of the dataset clips")
	frames := flag.Int("frames", 16, "frames per dataset clip")
	write := flag.String("write", "", "save the held-out dataset clips here as .npy + prompts.txt")
	gif := flag.Bool("gif", false, "with -write, also save each clip as .gif")
	verbose := flag.Bool("v", false, "print every clip that failed a check")
	flag.Parse()
	var err error
	if *dir != "" {
		var r evaluate.MotionReport
		if r, err = checkDir(*dir, *verbose); err == nil {
			fmt.Print(r)
		}
	} else {
		err = checkDataset(*n, *size, *frames, *write, *gif, *verbose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "check_video:", err)
		os.Exit(1)
	}
}

// checkDir checks every clip of dir against its caption.
func checkDir(dir string, verbose bool) (evaluate.MotionReport, error) {
	var r evaluate.MotionReport
	clips, err := filepath.Glob(filepath.Join(dir, "*.npy"))
	if err != nil {
		return r, err
	}
	if len(clips) == 0 {
		return r, fmt.Errorf("no .npy clips in %s", dir)
	}
	sort.Strings(clips)
	var lines []string
	if b, err := os.ReadFile(filepath.Join(dir, "prompts.txt")); err == nil {
		lines = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) != len(clips) {
			return r, fmt.Errorf("prompts.txt has %d lines for %d clips", len(lines), len(clips))
		}
	}
	for i, path := range clips {
		caption := ""
		if lines != nil {
			caption = lines[i]
		} else {
			b, err := os.ReadFile(strings.TrimSuffix(path, ".npy") + ".txt")
			if err != nil {
				return r, fmt.Errorf("caption of %s: %w (want NAME.txt beside it or prompts.txt)", path, err)
			}
			caption = strings.TrimSpace(string(b))
		}
		c, err := videoio.LoadNPY(path)
		if err != nil {
			return r, err
		}
		s, err := evaluate.CheckMotion(c, caption)
		if err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		if verbose && !s.Passed() {
			explain(filepath.Base(path), caption, s)
		}
		r.Add(s)
	}
	return r, nil
}

// checkDataset measures the held-out dataset clips as they are, reversed
// in time and with the color swapped halfway.
func checkDataset(n, size, frames int, write string, gif, verbose bool) error {
	if write != "" {
		if err := os.MkdirAll(write, 0o755); err != nil {
			return err
		}
	}
	var truth, blurred, backwards, recolored, reshaped evaluate.MotionReport
	rng := rand.New(rand.NewPCG(1, 2))
	var prompts []string
	for i := range n {
		s, err := shapes.MotionDataset{Split: shapes.HeldOut, Size: size, Frames: frames}.Sample(i)
		if err != nil {
			return err
		}
		c, err := clipOf(s.Frames)
		if err != nil {
			return err
		}
		if write != "" {
			base := filepath.Join(write, fmt.Sprintf("%03d", i))
			if err := videoio.Write(base+".npy", c); err != nil {
				return err
			}
			if gif {
				if err := videoio.Write(base+".gif", c); err != nil {
					return err
				}
			}
			prompts = append(prompts, s.Caption)
		}
		for _, run := range []struct {
			name string
			clip func() (videoio.Clip, error)
			r    *evaluate.MotionReport
		}{
			{"truth", func() (videoio.Clip, error) { return c, nil }, &truth},
			{"blurred", func() (videoio.Clip, error) { return blurNoise(c, rng, 8), nil }, &blurred},
			{"reversed", func() (videoio.Clip, error) { return reversed(c), nil }, &backwards},
			{"color swapped", func() (videoio.Clip, error) { return swapped(s, true) }, &recolored},
			{"class swapped", func() (videoio.Clip, error) { return swapped(s, false) }, &reshaped},
		} {
			clip, err := run.clip()
			if err != nil {
				return err
			}
			sc, err := evaluate.CheckMotion(clip, s.Caption)
			if err != nil {
				return fmt.Errorf("clip %d: %w", i, err)
			}
			if verbose && run.name == "truth" && !sc.Passed() {
				explain(fmt.Sprint(i), s.Caption, sc)
			}
			run.r.Add(sc)
		}
	}
	if write != "" {
		if err := os.WriteFile(filepath.Join(write, "prompts.txt"), []byte(strings.Join(prompts, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("== held-out dataset clips, %dx%d, %d frames: ground truth\n%v\n", size, size, frames, truth)
	fmt.Printf("== the same clips blurred (3x3 box) with noise (σ 8 levels)\n%v\n", blurred)
	fmt.Printf("== the same clips played backwards\n%v\n", backwards)
	fmt.Printf("== the same clips with each shape's color swapped from the middle frame on\n%v\n", recolored)
	fmt.Printf("== the same clips with each shape's class swapped from the middle frame on\n%v", reshaped)
	return nil
}

func explain(name, caption string, s evaluate.MotionScore) {
	fmt.Printf("%s %q:\n", name, caption)
	for _, t := range s.Shapes {
		fmt.Printf("  %v %v %v: read %v (dx %+.2f dy %+.2f dr %+.2f), found %.0f%%, color %v %.0f%%, class %v %.0f%%\n",
			t.Want.Color, t.Want.Kind, t.Want.Motion, t.Motion, t.DX, t.DY, t.DR, 100*t.FoundShare,
			t.Color, 100*t.ColorShare, t.Kind, 100*t.KindShare)
	}
}

func clipOf(frames []*image.NRGBA) (videoio.Clip, error) {
	imgs := make([]image.Image, len(frames))
	for i, f := range frames {
		imgs[i] = f
	}
	return videoio.FromImages(imgs, 8)
}

func reversed(c videoio.Clip) videoio.Clip {
	plane := c.H * c.W * 3
	out := c
	out.Frames = make([]float32, len(c.Frames))
	for k := range c.F {
		copy(out.Frames[k*plane:], c.Frames[(c.F-1-k)*plane:(c.F-k)*plane])
	}
	return out
}

// swapped redraws the clip from its middle frame on with every shape in
// another palette color (recolor: one no shape of the clip shows and not
// the background), or else as the next class, on the same paths and in
// its first color.
func swapped(s shapes.MotionSample, recolor bool) (videoio.Clip, error) {
	used := map[shapes.Color]bool{s.Scene.Background: true}
	for _, sh := range s.Scene.Shapes {
		used[sh.Color], used[sh.To] = true, true
	}
	frames := append([]*image.NRGBA(nil), s.Frames...)
	scene := shapes.Scene{Background: s.Scene.Background}
	for _, sh := range s.Scene.Shapes {
		c, k := sh.Color, shapes.Kinds[int(sh.Kind)%len(shapes.Kinds)]
		if recolor {
			k = sh.Kind
			for _, o := range shapes.Colors {
				if !used[o] {
					c, used[o] = o, true
					break
				}
			}
		}
		scene.Shapes = append(scene.Shapes, shapes.Shape{Kind: k, Color: c})
	}
	size := frames[0].Bounds().Dx()
	for k := len(frames) / 2; k < len(frames); k++ {
		img, err := shapes.Render(scene, s.Tracks[k], size)
		if err != nil {
			return videoio.Clip{}, err
		}
		frames[k] = img
	}
	return clipOf(frames)
}

// blurNoise returns the clip blurred by a 3x3 box (clipped at the edges)
// with Gaussian noise of sigma levels (of 255) added to every value.
func blurNoise(c videoio.Clip, rng *rand.Rand, sigma float64) videoio.Clip {
	out := c
	out.Frames = make([]float32, len(c.Frames))
	at := func(f, y, x, ch int) int { return ((f*c.H+y)*c.W+x)*3 + ch }
	for f := range c.F {
		for y := range c.H {
			for x := range c.W {
				for ch := range 3 {
					var sum float64
					n := 0
					for yy := max(y-1, 0); yy <= min(y+1, c.H-1); yy++ {
						for xx := max(x-1, 0); xx <= min(x+1, c.W-1); xx++ {
							sum += float64(c.Frames[at(f, yy, xx, ch)])
							n++
						}
					}
					v := sum/float64(n) + rng.NormFloat64()*sigma/255
					out.Frames[at(f, y, x, ch)] = float32(math.Min(math.Max(v, 0), 1))
				}
			}
		}
	}
	return out
}
