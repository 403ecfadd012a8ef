// Command psnr prints the PSNR in dB of each picture against the first
// (the float32 reference of a quantized model's picture, same seed).
//
// Usage: go run ./scripts/psnr REF.png OTHER.png...
package main

import (
	"fmt"
	"image"
	_ "image/png"
	"os"

	"github.com/imagegen/imagegen/imageio"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: psnr REF.png OTHER.png...")
		os.Exit(2)
	}
	ref, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "psnr:", err)
		os.Exit(1)
	}
	for _, p := range os.Args[2:] {
		img, err := load(p)
		if err == nil {
			var db float64
			if db, err = imageio.PSNR(ref, img); err == nil {
				fmt.Printf("%.2f dB\t%s\n", db, p)
				continue
			}
		}
		fmt.Fprintf(os.Stderr, "psnr: %s: %v\n", p, err)
		os.Exit(1)
	}
}

func load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	return img, err
}
