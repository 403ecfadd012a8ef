package main

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"sort"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/upscale"
)

// edgeThreshold is the gradient magnitude (of [0, 1] RGB, central
// differences) above which a pixel of a 128x128 ground-truth render counts
// as part of a shape's outline.
const edgeThreshold = 0.1

// check measures the exported stage in dir:
//
//   - on n held-out scenes, the renderer's 32x32 picture enlarged by the
//     stage and by bicubic (Catmull-Rom) interpolation against the
//     renderer's own 128x128 picture: PSNR, and the mean gradient
//     magnitude over the ground truth's outline pixels (a sharp edge keeps
//     the ground truth's value; a blurred one spreads it thinner) and over
//     its flat areas (0 in the ground truth; noise raises it);
//   - when basePictures names the folder of `imagegen eval --size 32
//     --save-dir` (pictures 000.png … of builtin:default on the held-out
//     prompts, seeds 0…), the shapes checker's scores of those pictures,
//     of the stage's enlargements (seed i for picture i, as the cascade
//     runs them) and of bicubic ones.
func check(ctx context.Context, dir, basePictures, grid string, n, threads int, run upscale.RunOptions) error {
	u, err := upscale.Open(ctx, dir, upscale.Options{Session: ort.Options{IntraOpThreads: threads}})
	if err != nil {
		return err
	}
	defer u.Close()
	type score struct {
		psnr, edge, flat float64
	}
	var gt, bic, sr []score
	var times []float64
	var loCases, hiCases, srCases []shapes.Case
	for i := range n {
		hi, err := shapes.Dataset{Split: shapes.HeldOut, Size: highSize}.Sample(i)
		if err != nil {
			return err
		}
		lo, err := shapes.Dataset{Split: shapes.HeldOut, Size: lowSize}.Sample(i)
		if err != nil {
			return err
		}
		start := time.Now()
		run.Seed = uint64(i)
		up, err := u.Upscale(ctx, lo.Image, run)
		if err != nil {
			return err
		}
		times = append(times, time.Since(start).Seconds())
		loCases = append(loCases, shapes.Case{Image: lo.Image, Prompt: lo.Caption})
		hiCases = append(hiCases, shapes.Case{Image: hi.Image, Prompt: lo.Caption})
		srCases = append(srCases, shapes.Case{Image: up, Prompt: lo.Caption})
		cubic := bicubic(lo.Image, highSize)
		edges, flat := masks(hi.Image)
		for _, c := range []struct {
			img image.Image
			dst *[]score
		}{{hi.Image, &gt}, {cubic, &bic}, {up, &sr}} {
			p, err := imageio.PSNR(c.img, hi.Image)
			if err != nil {
				return err
			}
			*c.dst = append(*c.dst, score{psnr: p, edge: meanGradient(c.img, edges), flat: meanGradient(c.img, flat)})
		}
	}
	mean := func(s []score) (psnr, edge, flat float64) {
		for _, v := range s {
			psnr += math.Min(v.psnr, 99)
			edge += v.edge
			flat += v.flat
		}
		k := float64(len(s))
		return psnr / k, edge / k, flat / k
	}
	cfg, _ := u.Stage()
	steps, level := cfg.Steps, cfg.NoiseLevel
	if run.Steps != 0 {
		steps = run.Steps
	}
	if run.NoiseLevel != nil {
		level = *run.NoiseLevel
	}
	fmt.Printf("%d held-out scenes, the renderer's 32x32 picture enlarged to 128x128 (stage: %s, %d steps, noise level %d, median %.3f s a picture):\n", n, dir, steps, level, median(times))
	fmt.Printf("| | PSNR vs the 128x128 render (dB) | mean gradient on outlines | mean gradient in flat areas |\n| --- | --- | --- | --- |\n")
	for _, r := range []struct {
		name string
		s    []score
	}{{"ground truth (128x128 render)", gt}, {"bicubic", bic}, {"builtin:sr", sr}} {
		p, e, f := mean(r.s)
		if r.name == "ground truth (128x128 render)" {
			fmt.Printf("| %s | – | %.3f | %.4f |\n", r.name, e, f)
			continue
		}
		fmt.Printf("| %s | %.2f | %.3f | %.4f |\n", r.name, p, e, f)
	}
	fmt.Printf("\nthe shapes checker on the same scenes (their captions):\n")
	if err := printScores([]string{"render, 32x32", "render, 128x128", "builtin:sr on the 32x32 render"}, loCases, hiCases, srCases); err != nil {
		return err
	}
	if basePictures == "" {
		return nil
	}
	return checkBase(ctx, u, basePictures, n, run, grid)
}

// checkBase scores builtin:default's saved pictures, their stage
// enlargements and bicubic ones with the shapes checker.
func checkBase(ctx context.Context, u *upscale.Upscaler, folder string, n int, run upscale.RunOptions, grid string) error {
	prompts := shapes.HeldOutPrompts(n)
	var base, cubic, sr []shapes.Case
	for i, p := range prompts {
		img, err := imageio.LoadImage(filepath.Join(folder, fmt.Sprintf("%03d.png", i)))
		if err != nil {
			return err
		}
		run.Seed = uint64(i)
		up, err := u.Upscale(ctx, img, run)
		if err != nil {
			return err
		}
		base = append(base, shapes.Case{Image: img, Prompt: p})
		cubic = append(cubic, shapes.Case{Image: bicubic(img, highSize), Prompt: p})
		sr = append(sr, shapes.Case{Image: up, Prompt: p})
	}
	if grid != "" {
		if err := writeGrid(grid, base, cubic, sr, 6); err != nil {
			return err
		}
	}
	fmt.Printf("\nbuiltin:default's pictures of %d held-out prompts (seeds 0-%d), shapes checker:\n", n, n-1)
	return printScores([]string{"base, 32x32", "bicubic, 128x128", "builtin:sr, 128x128"}, base, cubic, sr)
}

// printScores prints the shapes checker's scores of each set of cases as
// a Markdown table row named by names.
func printScores(names []string, sets ...[]shapes.Case) error {
	fmt.Printf("| | color | shape | size | position | background | whole prompt |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for i, cases := range sets {
		rep, err := shapes.Evaluate(cases)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", names[i], 100*rep.Color.Rate(), 100*rep.Shape.Rate(),
			100*rep.Size.Rate(), 100*rep.Position.Rate(), 100*rep.Background.Rate(), 100*rep.Passed.Rate())
	}
	return nil
}

// writeGrid writes the first rows cases side by side, one row each: the
// base picture enlarged by nearest neighbour, bicubic, the stage.
func writeGrid(path string, base, cubic, sr []shapes.Case, rows int) error {
	rows = min(rows, len(base))
	out := image.NewNRGBA(image.Rect(0, 0, 3*highSize, rows*highSize))
	for r := range rows {
		for c, img := range []image.Image{base[r].Image, cubic[r].Image, sr[r].Image} {
			dst := image.Rect(c*highSize, r*highSize, (c+1)*highSize, (r+1)*highSize)
			xdraw.NearestNeighbor.Scale(out, dst, img, img.Bounds(), xdraw.Src, nil)
		}
	}
	return imageio.WritePNG(path, out, imageio.Metadata{})
}

// bicubic enlarges img to size x size with Catmull-Rom interpolation.
func bicubic(img image.Image, size int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(out, out.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	return out
}

// gradient returns the gradient magnitude of img's [0, 1] RGB at (x, y)
// (central differences, one-sided at the border, summed over channels in
// quadrature).
func gradient(img image.Image, x, y int) float64 {
	b := img.Bounds()
	at := func(x, y int) [3]float64 {
		x, y = min(max(x, 0), b.Dx()-1), min(max(y, 0), b.Dy()-1)
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return [3]float64{float64(r) / 65535, float64(g) / 65535, float64(bl) / 65535}
	}
	l, r, u, d := at(x-1, y), at(x+1, y), at(x, y-1), at(x, y+1)
	s := 0.0
	for c := range 3 {
		gx, gy := (r[c]-l[c])/2, (d[c]-u[c])/2
		s += gx*gx + gy*gy
	}
	return math.Sqrt(s)
}

// masks lists the pixels of a ground-truth render on shape outlines
// (gradient above edgeThreshold) and in flat areas (no gradient, and
// none at the pixels around).
func masks(img image.Image) (edges, flat []image.Point) {
	b := img.Bounds()
	g := make([]float64, b.Dx()*b.Dy())
	for y := range b.Dy() {
		for x := range b.Dx() {
			g[y*b.Dx()+x] = gradient(img, x, y)
		}
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			if g[y*b.Dx()+x] > edgeThreshold {
				edges = append(edges, image.Pt(x, y))
				continue
			}
			still := true
			for dy := -2; dy <= 2 && still; dy++ {
				for dx := -2; dx <= 2; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && yy >= 0 && xx < b.Dx() && yy < b.Dy() && g[yy*b.Dx()+xx] > 0 {
						still = false
						break
					}
				}
			}
			if still {
				flat = append(flat, image.Pt(x, y))
			}
		}
	}
	return edges, flat
}

// meanGradient is img's mean gradient magnitude over the mask's pixels.
func meanGradient(img image.Image, mask []image.Point) float64 {
	if len(mask) == 0 {
		return 0
	}
	s := 0.0
	for _, p := range mask {
		s += gradient(img, p.X, p.Y)
	}
	return s / float64(len(mask))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
