package main

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/shapes"
)

// measurement is what check reports about a VQ-VAE on held-out pictures.
type measurement struct {
	Pictures   int
	PSNR       float64       // dB, over the 8-bit RGB values of all pictures
	Perplexity float64       // of the codes the encoder chose
	Used       int           // distinct codes chosen
	Codes      int           // codebook size
	Rec, Orig  shapes.Report // the checker on the reconstructions and on the pictures
}

func (m measurement) String() string {
	return fmt.Sprintf("%d held-out pictures: PSNR %.2f dB, perplexity %.1f, %d of %d codes used (%d dead)\n  reconstructions: %v\n  originals:       %v",
		m.Pictures, m.PSNR, m.Perplexity, m.Used, m.Codes, m.Codes-m.Used, m.Rec, m.Orig)
}

// check encodes and decodes the first n held-out pictures with the
// exported graphs in enc and dec (sample → indices → sample) and scores
// the round trips and the pictures themselves with the shapes checker
// against their captions. When pairsPNG is set, the first 16 pictures and
// their reconstructions are drawn into that file.
func check(ctx context.Context, enc, dec *ort.Session, n, grid, codes int, pairsPNG string) (measurement, error) {
	const batch = 50
	m := measurement{Pictures: n, Codes: codes}
	var recCases, origCases []shapes.Case
	counts := make([]float64, codes)
	var sq float64
	per := 3 * imageSize * imageSize
	in := make([]float32, batch*per)
	ds := shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}
	for i0 := 0; i0 < n; i0 += batch {
		k := min(batch, n-i0)
		var samples []shapes.Sample
		for j := range k {
			s, err := ds.Sample(i0 + j)
			if err != nil {
				return m, err
			}
			px, err := imageio.ImageTensor(s.Image, imageSize, imageSize)
			if err != nil {
				return m, err
			}
			copy(in[j*per:], px)
			samples = append(samples, s)
		}
		idx := map[string]*ort.Tensor{"indices": {}}
		if err := enc.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(k), 3, imageSize, imageSize}, F32: in[:k*per]}}, idx); err != nil {
			return m, fmt.Errorf("encode: %w", err)
		}
		if want := k * grid * grid; len(idx["indices"].I64) != want {
			return m, fmt.Errorf("encoder gave %d indices, want %d", len(idx["indices"].I64), want)
		}
		for _, c := range idx["indices"].I64 {
			counts[c]++
		}
		out := map[string]*ort.Tensor{"sample": {}}
		if err := dec.Run(ctx, map[string]ort.Tensor{"indices": *idx["indices"]}, out); err != nil {
			return m, fmt.Errorf("decode: %w", err)
		}
		recs, err := imageio.ToNRGBA(out["sample"].F32, []int{k, 3, imageSize, imageSize}, imageio.NCHW, imageio.Signed)
		if err != nil {
			return m, err
		}
		for j, s := range samples {
			for y := range imageSize {
				for x := range imageSize {
					for c := range 3 {
						d := float64(s.Image.Pix[y*s.Image.Stride+4*x+c]) - float64(recs[j].Pix[y*recs[j].Stride+4*x+c])
						sq += d * d
					}
				}
			}
			recCases = append(recCases, shapes.Case{Image: recs[j], Prompt: s.Caption})
			origCases = append(origCases, shapes.Case{Image: s.Image, Prompt: s.Caption})
		}
	}
	m.PSNR = 10 * math.Log10(255*255/(sq/float64(n*per)))
	m.Perplexity = perplexity(counts)
	for _, c := range counts {
		if c > 0 {
			m.Used++
		}
	}
	if pairsPNG != "" {
		if err := writePairs(pairsPNG, origCases[:min(16, n)], recCases[:min(16, n)]); err != nil {
			return m, err
		}
	}
	var err error
	if m.Rec, err = shapes.Evaluate(recCases); err != nil {
		return m, err
	}
	m.Orig, err = shapes.Evaluate(origCases)
	return m, err
}

// checkFolder runs check on an exported folder (vq_encoder/model.onnx,
// vq_decoder/model.onnx), as the pipeline would load it.
func checkFolder(ctx context.Context, dir string, n, grid, codes, threads int, pairsPNG string) (measurement, error) {
	var s [2]*ort.Session
	for i, name := range []string{"vq_encoder", "vq_decoder"} {
		var err error
		if s[i], err = ort.Open(filepath.Join(dir, name, "model.onnx"), ort.Options{IntraOpThreads: threads}); err != nil {
			return measurement{}, err
		}
		defer s[i].Close()
	}
	return check(ctx, s[0], s[1], n, grid, codes, pairsPNG)
}

// writePairs draws each picture of origs with its reconstruction in recs
// to its right, four pairs a row, scaled 4x, into a PNG file.
func writePairs(path string, origs, recs []shapes.Case) error {
	const scale, perRow, gap = 4, 4, 4
	cell := imageSize * scale
	rows := (len(origs) + perRow - 1) / perRow
	out := image.NewNRGBA(image.Rect(0, 0, perRow*(2*cell+gap), rows*(cell+gap)))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	for i := range origs {
		x0, y0 := (i%perRow)*(2*cell+gap), (i/perRow)*(cell+gap)
		for k, img := range []image.Image{origs[i].Image, recs[i].Image} {
			for y := range cell {
				for x := range cell {
					out.Set(x0+k*cell+x, y0+y, img.At(x/scale, y/scale))
				}
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = png.Encode(f, out)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
