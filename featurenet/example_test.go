package featurenet_test

import (
	"context"
	"fmt"
	"image"
	"log"

	"github.com/imagegen/imagegen/featurenet"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/shapes"
)

// ExampleFrechetDistance compares two one-dimensional feature sets: means
// 1 and 3, variances 2 and 8, so (1−3)² + (√2 − √8)² = 6.
func ExampleFrechetDistance() {
	d, err := featurenet.FrechetDistance([][]float64{{0}, {2}}, [][]float64{{1}, {5}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.6f\n", d)
	// Output: 6.000000
}

// ExampleStats computes the real pictures' statistics once and measures
// two candidate sets against them: other real pictures, and copies of one
// flat gray picture.
func ExampleStats() {
	ctx := context.Background()
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		log.Fatal(err)
	}
	net, err := featurenet.Open(ort.Options{IntraOpThreads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	draw := func(first, n int) []image.Image {
		out := make([]image.Image, n)
		for i := range out {
			s, err := shapes.Dataset{Split: shapes.HeldOut, Size: 32}.Sample(first + i)
			if err != nil {
				log.Fatal(err)
			}
			out[i] = s.Image
		}
		return out
	}
	realFeat, err := net.Features(ctx, draw(0, 200))
	if err != nil {
		log.Fatal(err)
	}
	ref, err := featurenet.StatsOf(realFeat)
	if err != nil {
		log.Fatal(err)
	}
	gray := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	flat := make([]image.Image, 200)
	for i := range flat {
		flat[i] = gray
	}
	for _, set := range []struct {
		name string
		imgs []image.Image
	}{{"real", draw(200, 200)}, {"flat gray", flat}} {
		f, err := net.Features(ctx, set.imgs)
		if err != nil {
			log.Fatal(err)
		}
		s, err := featurenet.StatsOf(f)
		if err != nil {
			log.Fatal(err)
		}
		d, err := ref.FrechetDistance(s)
		if err != nil {
			log.Fatal(err)
		}
		// Distances depend on floating-point details of the machine; their
		// scale does not (about 8 for 200 real pictures, 200 for trivial
		// generators; see scripts/train_featurenet/README.md).
		fmt.Printf("%s: %d features each, distance below 50: %v\n", set.name, s.Dim(), d < 50)
	}
	// Output:
	// real: 128 features each, distance below 50: true
	// flat gray: 128 features each, distance below 50: false
}
