package main

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// readLosses reads the step and loss columns of a loss CSV.
func readLosses(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ",")
		if len(parts) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			continue // the header
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// smooth is a trailing moving average over w values.
func smooth(v []float64, w int) []float64 {
	out := make([]float64, len(v))
	sum := 0.0
	for i, x := range v {
		sum += x
		if i >= w {
			sum -= v[i-w]
		}
		out[i] = sum / float64(min(i+1, w))
	}
	return out
}

// plotLosses draws each series (raw in a light tint, smoothed in full
// color) in its own panel with a log10 loss axis and writes a PNG.
func plotLosses(path string, series map[string][]float64, order []string) error {
	const pw, ph, margin = 480, 220, 30
	img := image.NewRGBA(image.Rect(0, 0, pw, ph*len(order)))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	colors := []color.RGBA{{200, 40, 40, 255}, {40, 80, 200, 255}}
	for k, name := range order {
		v := series[name]
		if len(v) == 0 {
			continue
		}
		y0 := k * ph
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			lx := math.Log10(math.Max(x, 1e-6))
			lo, hi = math.Min(lo, lx), math.Max(hi, lx)
		}
		if hi-lo < 1e-9 {
			hi = lo + 1
		}
		// Axes and decade grid lines.
		for x := margin; x < pw-10; x++ {
			img.Set(x, y0+ph-margin, color.Black)
		}
		for y := y0 + 10; y < y0+ph-margin; y++ {
			img.Set(margin, y, color.Black)
		}
		toY := func(l float64) int { return y0 + ph - margin - int((l-lo)/(hi-lo)*float64(ph-margin-20)) }
		for d := math.Ceil(lo); d <= hi; d++ {
			for x := margin; x < pw-10; x += 3 {
				img.Set(x, toY(d), color.Gray{180})
			}
		}
		c := colors[k%len(colors)]
		light := color.RGBA{uint8(255 - (255-int(c.R))/4), uint8(255 - (255-int(c.G))/4), uint8(255 - (255-int(c.B))/4), 255}
		draw := func(vals []float64, col color.Color) {
			for i, x := range vals {
				px := margin + 1 + i*(pw-margin-12)/max(len(vals)-1, 1)
				img.Set(px, toY(math.Log10(math.Max(x, 1e-6))), col)
			}
		}
		draw(v, light)
		draw(smooth(v, 50), c)
		drawLabel(img, margin+6, y0+4, fmt.Sprintf("%s loss (log scale, %.3g .. %.3g), %d steps", name, math.Pow(10, lo), math.Pow(10, hi), len(v)), c)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// drawLabel writes s with the 7x13 basic font.
func drawLabel(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y+11)}
	d.DrawString(s)
}

// writePlot draws state's loss CSVs into o.plot and copies them next to it
// (the decoder's and the text encoder's only when those phases ran, and
// the earlier denoiser run a -unet-from run started from).
func writePlot(o options) error {
	series := map[string][]float64{}
	order := []string{"vae"}
	if o.decoderSteps > 0 {
		order = append(order, o.decoderName)
	}
	if o.textSteps > 0 {
		order = append(order, "text")
	}
	if o.unetFrom != "" {
		order = append(order, o.unetFrom)
	}
	order = append(order, o.unetName)
	for _, n := range order {
		src := filepath.Join(o.state, n+"_loss.csv")
		v, err := readLosses(src)
		if err != nil {
			return err
		}
		series[n] = v
		raw, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(o.plot), n+"_loss.csv"), raw, 0o644); err != nil {
			return err
		}
	}
	return plotLosses(o.plot, series, order)
}
