package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// checkVAE scores VAE reconstructions of n held-out pictures with the
// shapes checker: the ceiling the denoiser can reach through this decoder.
func checkVAE(ctx context.Context, o options, cfg onnxexport.VAEConfig, w map[string]*onnxexport.Tensor, n int) (shapes.Report, error) {
	var sessions [2]*ort.Session
	for i, b := range []*onnxexport.Builder{onnxexport.NewVAEEncoderGraph(cfg, 0), onnxexport.NewVAEDecoderGraph(cfg, 0)} {
		if err := b.LoadParams(w); err != nil {
			return shapes.Report{}, err
		}
		m, err := b.Build()
		if err != nil {
			return shapes.Report{}, err
		}
		path := filepath.Join(o.state, "check-"+itoa(i)+".onnx")
		if err := onnxexport.Save(path, m); err != nil {
			return shapes.Report{}, err
		}
		defer os.Remove(path)
		if sessions[i], err = ort.Open(path, ort.Options{IntraOpThreads: o.threads}); err != nil {
			return shapes.Report{}, err
		}
		defer sessions[i].Close()
	}
	const s = imageSize
	lat := int64(latentSize)
	c := cfg.LatentChannels
	ds := shapes.Dataset{Split: shapes.HeldOut, Size: s}
	in := make([]float32, 3*s*s)
	var cases []shapes.Case
	for i := range n {
		smp, err := ds.Sample(i)
		if err != nil {
			return shapes.Report{}, err
		}
		imageToCHW(smp.Image.Pix, smp.Image.Stride, s, in)
		moments := map[string]*ort.Tensor{"latent_parameters": {}}
		if err := sessions[0].Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{1, 3, s, s}, F32: in}}, moments); err != nil {
			return shapes.Report{}, err
		}
		rec := map[string]*ort.Tensor{"sample": {}}
		z := moments["latent_parameters"].F32[:c*lat*lat]
		if err := sessions[1].Run(ctx, map[string]ort.Tensor{"latent_sample": {Shape: []int64{1, c, lat, lat}, F32: z}}, rec); err != nil {
			return shapes.Report{}, err
		}
		cases = append(cases, shapes.Case{Image: chwToImage(rec["sample"].F32, s), Prompt: smp.Caption})
		if dump := os.Getenv("VAE_DUMP"); dump != "" && i < 16 {
			writeSideBySide(filepath.Join(dump, fmt.Sprintf("%02d.png", i)), smp.Image, cases[len(cases)-1].Image.(*image.NRGBA))
		}
	}
	return shapes.Evaluate(cases)
}

// chwToImage turns [3,S,S] floats in [-1, 1] into a picture.
func chwToImage(px []float32, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			var c [3]uint8
			for k := range 3 {
				v := (px[(k*size+y)*size+x] + 1) * 127.5
				c[k] = uint8(max(0, min(255, v)) + 0.5)
			}
			img.SetNRGBA(x, y, color.NRGBA{c[0], c[1], c[2], 255})
		}
	}
	return img
}

func itoa(i int) string { return string(rune('0' + i)) }

// writeSideBySide writes original and reconstruction next to each other,
// scaled 4x, for looking at.
func writeSideBySide(path string, a, b *image.NRGBA) {
	const k = 4
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	out := image.NewNRGBA(image.Rect(0, 0, 2*w*k+k, h*k))
	for y := range h * k {
		for x := range w * k {
			out.Set(x, y, a.At(x/k, y/k))
			out.Set(w*k+k+x, y, b.At(x/k, y/k))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	png.Encode(f, out)
}
