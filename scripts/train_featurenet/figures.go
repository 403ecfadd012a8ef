package main

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"strings"

	"github.com/imagegen/imagegen/featurenet"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// printFigures prints the Fréchet distances that set the embedded
// network's scale: between disjoint sets of real held-out pictures, and
// between real held-out pictures and generators that know nothing (the
// dataset's mean picture repeated, uniform noise) or are wrong in one way
// (real pictures blurred, with their color channels rotated, or only the
// one-shape scenes), at a few set sizes.
func printFigures(ctx context.Context, o options) error {
	net, err := featurenet.Open(ort.Options{IntraOpThreads: o.threads})
	if err != nil {
		return err
	}
	defer net.Close()
	const pool = 2000
	heldOut, err := drawn(shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}, 0, pool)
	if err != nil {
		return err
	}
	ref, err := net.Features(ctx, heldOut)
	if err != nil {
		return err
	}
	mean, err := meanPicture(5000)
	if err != nil {
		return err
	}
	columns := []struct{ key, title string }{
		{"train", "training pictures"}, {"64", "64x64 drawn, box-downsampled"}, {"blur", "blurred (2x2 box)"},
		{"channels", "channels rotated (RGB → GBR)"}, {"one", "one-shape scenes only"},
		{"mean", "mean picture repeated"}, {"noise", "uniform noise"},
	}
	head := "| N | real vs real (disjoint held-out sets) |"
	for _, c := range columns {
		head += " " + c.title + " |"
	}
	fmt.Println(head)
	fmt.Println("|---|---|" + strings.Repeat("---|", len(columns)))
	for _, n := range []int{200, 500} {
		// Every disjoint pair the pool holds: the spread of real vs real.
		var pairs []float64
		for i := 0; i+2*n <= pool; i += 2 * n {
			d, err := featurenet.FrechetDistance(ref[i:i+n], ref[i+n:i+2*n])
			if err != nil {
				return err
			}
			pairs = append(pairs, d)
		}
		others := map[string][]image.Image{}
		if others["train"], err = drawn(shapes.Dataset{Split: shapes.Train, Size: imageSize}, 0, n); err != nil {
			return err
		}
		if others["64"], err = drawn(shapes.Dataset{Split: shapes.HeldOut, Size: 2 * imageSize}, n, n); err != nil {
			return err
		}
		others["blur"] = blurred(heldOut[n : 2*n])
		others["channels"] = channelsRotated(heldOut[n : 2*n])
		if others["one"], err = oneShape(pool, n); err != nil {
			return err
		}
		others["mean"] = repeated(mean, n)
		others["noise"] = noise(n, uint64(n))
		row := fmt.Sprintf("| %d | %s |", n, spread(pairs))
		for _, c := range columns {
			f, err := net.Features(ctx, others[c.key])
			if err != nil {
				return err
			}
			d, err := featurenet.FrechetDistance(f, ref[:n])
			if err != nil {
				return err
			}
			row += fmt.Sprintf(" %.3g |", d)
		}
		fmt.Println(row)
	}
	return nil
}

// spread formats distances as their mean and range.
func spread(d []float64) string {
	lo, hi, sum := d[0], d[0], 0.0
	for _, v := range d {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	return fmt.Sprintf("%.3g (%d pairs, %.3g–%.3g)", sum/float64(len(d)), len(d), lo, hi)
}

// drawn returns n pictures of ds from sample first on.
func drawn(ds shapes.Dataset, first, n int) ([]image.Image, error) {
	out := make([]image.Image, n)
	for i := range out {
		s, err := ds.Sample(first + i)
		if err != nil {
			return nil, err
		}
		out[i] = s.Image
	}
	return out, nil
}

// meanPicture returns the average of n training pictures, rounded to
// bytes.
func meanPicture(n int) (*image.NRGBA, error) {
	ds := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	sum := make([]float64, 4*imageSize*imageSize)
	for i := range n {
		s, err := ds.Sample(i)
		if err != nil {
			return nil, err
		}
		for y := range imageSize {
			for x := range 4 * imageSize {
				sum[y*4*imageSize+x] += float64(s.Image.Pix[y*s.Image.Stride+x])
			}
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, imageSize, imageSize))
	for i, v := range sum {
		img.Pix[i] = uint8(v/float64(n) + 0.5)
	}
	return img, nil
}

func repeated(img image.Image, n int) []image.Image {
	out := make([]image.Image, n)
	for i := range out {
		out[i] = img
	}
	return out
}

// noise returns n pictures of uniformly random opaque pixels.
func noise(n int, seed uint64) []image.Image {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]image.Image, n)
	for i := range out {
		img := image.NewNRGBA(image.Rect(0, 0, imageSize, imageSize))
		for k := range img.Pix {
			img.Pix[k] = uint8(rng.IntN(256))
			if k%4 == 3 {
				img.Pix[k] = 255
			}
		}
		out[i] = img
	}
	return out
}

// blurred returns the pictures averaged over 2x2 boxes and scaled back up
// (each box one color): real scenes with soft, blocky outlines.
func blurred(imgs []image.Image) []image.Image {
	out := make([]image.Image, len(imgs))
	for i, im := range imgs {
		src := im.(*image.NRGBA)
		dst := image.NewNRGBA(src.Rect)
		for y := 0; y < imageSize; y += 2 {
			for x := 0; x < imageSize; x += 2 {
				for c := range 4 {
					sum := 0
					for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
						sum += int(src.Pix[(y+d[1])*src.Stride+4*(x+d[0])+c])
					}
					for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
						dst.Pix[(y+d[1])*dst.Stride+4*(x+d[0])+c] = uint8((sum + 2) / 4)
					}
				}
			}
		}
		out[i] = dst
	}
	return out
}

// channelsRotated returns the pictures with their red, green and blue
// channels taken from green, blue and red: every color changed, the
// scenes' geometry kept.
func channelsRotated(imgs []image.Image) []image.Image {
	out := make([]image.Image, len(imgs))
	for i, im := range imgs {
		src := im.(*image.NRGBA)
		dst := image.NewNRGBA(src.Rect)
		for k := 0; k < len(src.Pix); k += 4 {
			dst.Pix[k], dst.Pix[k+1], dst.Pix[k+2], dst.Pix[k+3] = src.Pix[k+1], src.Pix[k+2], src.Pix[k], src.Pix[k+3]
		}
		out[i] = dst
	}
	return out
}

// oneShape returns n held-out pictures of one shape, from sample first on:
// a generator that never draws the two-shape half of the scenes.
func oneShape(first, n int) ([]image.Image, error) {
	ds := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}
	var out []image.Image
	for i := first; len(out) < n; i++ {
		s, err := ds.Sample(i)
		if err != nil {
			return nil, err
		}
		if len(s.Scene.Shapes) == 1 {
			out = append(out, s.Image)
		}
	}
	return out, nil
}
