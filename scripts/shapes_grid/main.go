// Command shapes_grid draws a grid of samples from the shapes dataset with
// their captions, to look at the renders and captions by eye:
//
//	go run ./scripts/shapes_grid -n 24 -size 64 -o /tmp/shapes_grid.png
//
// With -from DIR it tiles the pictures an `imagegen eval --save-dir DIR`
// run wrote (000.png, 001.png, ...) with the prompts stored in their PNG
// text, the README's sample grid of each model family.
//
// Each cell shows one sample scaled up with nearest-neighbour pixels (so
// the anti-aliasing stays visible) above its caption, wrapped.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/shapes"
)

func main() {
	n := flag.Int("n", 24, "number of samples")
	cols := flag.Int("cols", 6, "cells per row")
	size := flag.Int("size", 64, "sample size in pixels (32 or 64)")
	scale := flag.Int("scale", 0, "upscale factor (0: 256/size)")
	first := flag.Int("first", 0, "index of the first sample")
	split := flag.String("split", "train", "train or held-out")
	out := flag.String("o", "shapes_grid.png", "output PNG")
	from := flag.String("from", "", "tile the pictures of an `imagegen eval --save-dir` folder instead of dataset samples")
	flag.Parse()
	if err := run(*n, *cols, *size, *scale, *first, *split, *from, *out); err != nil {
		fmt.Fprintln(os.Stderr, "shapes_grid:", err)
		os.Exit(1)
	}
}

// cell is one picture of the grid and its caption.
type cell struct {
	img     image.Image
	caption string
}

// cells returns n pictures: dataset samples, or those of an eval folder.
func cells(n, size, first int, split shapes.Split, from string) ([]cell, error) {
	var out []cell
	for i := range n {
		if from == "" {
			s, err := shapes.Dataset{Split: split, Size: size}.Sample(first + i)
			if err != nil {
				return nil, err
			}
			out = append(out, cell{s.Image, s.Caption})
			continue
		}
		path := filepath.Join(from, fmt.Sprintf("%03d.png", first+i))
		img, err := imageio.LoadImage(path)
		if err != nil {
			return nil, err
		}
		text, err := imageio.ReadPNGText(path)
		if err != nil {
			return nil, err
		}
		out = append(out, cell{img, text["parameters"]})
	}
	return out, nil
}

func run(n, cols, size, scale, first int, splitName, from, out string) error {
	if n < 1 || cols < 1 {
		return fmt.Errorf("-n and -cols must be positive")
	}
	split := shapes.Train
	switch splitName {
	case "train":
	case "held-out":
		split = shapes.HeldOut
	default:
		return fmt.Errorf("unknown split %q (want train or held-out)", splitName)
	}
	if scale <= 0 {
		scale = max(256/size, 1)
	}
	face := basicfont.Face7x13
	const lineH, textLines, pad = 13, 4, 6
	cellW := max(size*scale, 36*7)
	cellH := size*scale + textLines*lineH + 2*pad
	rows := (n + cols - 1) / cols
	grid := image.NewNRGBA(image.Rect(0, 0, cols*(cellW+pad)+pad, rows*cellH+pad))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.NRGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
	cs, err := cells(n, size, first, split, from)
	if err != nil {
		return err
	}
	for i, s := range cs {
		x0 := pad + (i%cols)*(cellW+pad)
		y0 := pad + (i/cols)*cellH
		for y := range size * scale {
			for x := range size * scale {
				grid.Set(x0+x, y0+y, s.img.At(x/scale, y/scale))
			}
		}
		d := font.Drawer{Dst: grid, Src: image.NewUniform(color.Black), Face: face}
		for l, line := range wrap(s.caption, cellW/7) {
			if l == textLines {
				break
			}
			d.Dot = fixed.P(x0, y0+size*scale+lineH*(l+1))
			d.DrawString(line)
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, grid); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// wrap breaks text into lines of at most width characters at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
