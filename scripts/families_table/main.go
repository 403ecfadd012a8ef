// Command families_table measures imagegen's model families the way
// `imagegen eval` does (package evaluate) and prints the README's table
// "The seed's families, measured on one dataset" as Markdown, with the
// Fréchet floor (two real sets) and a trivial generator (the dataset's
// mean picture) at the same N so the distances have a scale:
//
//	go run ./scripts/families_table -n 200 -models builtin:default,builtin:vae,builtin:vqvae -save docs/families
//
// With -save DIR each model's pictures go to DIR/NAME/NNN.png, which
// scripts/shapes_grid -from tiles into the README's sample grids.
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/featurenet"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

func main() {
	n := flag.Int("n", 200, "held-out prompts (pictures) per model")
	list := flag.String("models", "builtin:default,builtin:vae,builtin:vqvae,builtin:gan", "comma-separated builtin:NAME or checkpoint folders")
	save := flag.String("save", "", "write each model's pictures under `DIR`/NAME/")
	threads := flag.Int("threads", 0, "ONNX Runtime intra-op threads")
	flag.Parse()
	if err := run(*n, strings.Split(*list, ","), *save, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "families_table:", err)
		os.Exit(1)
	}
}

func run(n int, models []string, save string, threads int) error {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	sess := ort.Options{IntraOpThreads: threads}
	fmt.Println("| model | family | color | shape | position | all | Fréchet distance | bits/dim (ELBO / IWAE k=1 / k=64) | s per image | parameters |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var floor float64
	for _, name := range models {
		dir := name
		if strings.HasPrefix(name, builtin.Scheme) {
			m, err := builtin.ByName(name)
			if err != nil {
				return err
			}
			if dir, err = m.Dir(""); err != nil {
				return err
			}
		}
		p, err := pipeline.Load(ctx, dir, pipeline.Options{Session: sess})
		if err != nil {
			return err
		}
		o := evaluate.Options{N: n, Session: sess, Likelihood: p.Family() == pipeline.FamilyVAE || p.Family() == pipeline.FamilyFlow || p.Family() == pipeline.FamilyPixelCNN}
		if save != "" {
			o.SaveDir = filepath.Join(save, strings.TrimPrefix(name, builtin.Scheme))
		}
		rep, err := evaluate.Run(ctx, p, name, o)
		p.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		floor = *rep.FrechetReal
		bits := "—"
		if b := rep.Bits; b != nil && b.Exact {
			bits = fmt.Sprintf("%.3f (exact)", b.ELBO)
		} else if b != nil {
			bits = fmt.Sprintf("%.3f / %.3f / %.3f", b.ELBO, b.IWAE1, b.IWAE64)
		}
		label := "`" + name + "`"
		if rep.Reconstruction != nil {
			label += " (reconstructions)"
		}
		fmt.Printf("| %s | %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.2f | %s | %.3f | %s |\n", label, rep.Family,
			100*rep.Color, 100*rep.Shape, 100*rep.Position, 100*rep.AllPassed, *rep.Frechet, bits, rep.MedianSeconds, count(rep.Parameters))
	}
	mean, err := meanPictureDistance(ctx, n, sess)
	if err != nil {
		return err
	}
	fmt.Printf("| real held-out pictures (a second set) | — | | | | | %.2f | | | |\n", floor)
	fmt.Printf("| the dataset's mean picture, repeated | — | | | | | %.2f | | | |\n", mean)
	return nil
}

// meanPictureDistance is the Fréchet distance of a trivial generator that
// always draws the mean of n training pictures.
func meanPictureDistance(ctx context.Context, n int, sess ort.Options) (float64, error) {
	const size = 32
	sum := make([]float64, size*size*3)
	for i := range n {
		s, err := shapes.Dataset{Split: shapes.Train, Size: size}.Sample(i)
		if err != nil {
			return 0, err
		}
		for y := range size {
			for x := range size {
				for c := range 3 {
					sum[(y*size+x)*3+c] += float64(s.Image.Pix[y*s.Image.Stride+4*x+c])
				}
			}
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			k := (y*size + x) * 3
			img.SetNRGBA(x, y, color.NRGBA{uint8(sum[k]/float64(n) + 0.5), uint8(sum[k+1]/float64(n) + 0.5), uint8(sum[k+2]/float64(n) + 0.5), 255})
		}
	}
	net, err := featurenet.Open(sess)
	if err != nil {
		return 0, err
	}
	defer net.Close()
	gen := make([]image.Image, n)
	real := make([]image.Image, n)
	for i := range gen {
		gen[i] = img
		s, err := shapes.Dataset{Split: shapes.HeldOut, Size: size}.Sample(1<<20 + i)
		if err != nil {
			return 0, err
		}
		real[i] = s.Image
	}
	a, err := net.Features(ctx, gen)
	if err != nil {
		return 0, err
	}
	b, err := net.Features(ctx, real)
	if err != nil {
		return 0, err
	}
	return featurenet.FrechetDistance(a, b)
}

func count(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
