package main

import (
	"context"
	"image"
	"image/draw"
	"image/png"
	"os"

	"github.com/imagegen/imagegen/shapes"
)

// writeGrid writes pictures in rows of cols, scaled 3x with a 3-pixel
// gap, to a PNG file.
func writeGrid(path string, imgs []*image.NRGBA, cols int) error {
	const k, gap = 3, 3
	side := imageSize*k + gap
	rows := (len(imgs) + cols - 1) / cols
	out := image.NewNRGBA(image.Rect(0, 0, cols*side+gap, rows*side+gap))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	for i, img := range imgs {
		x0, y0 := gap+(i%cols)*side, gap+(i/cols)*side
		for y := range imageSize * k {
			for x := range imageSize * k {
				out.Set(x0+x, y0+y, img.At(x/k, y/k))
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeReconstructions writes the first n pictures of set (dequantized)
// and their reconstructions from the posterior means, in pairs.
func writeReconstructions(ctx context.Context, path string, m *cvae, set *heldOutSet, n int) error {
	const c = shapes.ConditionSize
	mean, _, err := m.encode(ctx, set.x[:n*pixels], set.c[:n*c], n)
	if err != nil {
		return err
	}
	mu, err := m.decode(ctx, mean, set.c[:n*c], n)
	if err != nil {
		return err
	}
	var imgs []*image.NRGBA
	for i := range n {
		imgs = append(imgs, chwToImage(set.x[i*pixels:(i+1)*pixels]), chwToImage(mu[i*pixels:(i+1)*pixels]))
	}
	return writeGrid(path, imgs, 8)
}
