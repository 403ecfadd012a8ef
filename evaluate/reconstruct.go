package evaluate

import (
	"context"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/shapes"
)

// reconstruct round-trips N held-out pictures through a tokenizer and
// measures the reconstructions against the originals.
func reconstruct(ctx context.Context, p *pipeline.Pipeline, o Options, rep *Report) ([]image.Image, error) {
	size, _ := p.DefaultSize()
	samples, err := heldOutSamples(int(o.Seed), o.N, size)
	if err != nil {
		return nil, err
	}
	k := p.CodebookSize()
	counts := make([]int, k)
	var recon, orig []shapes.Case
	var pictures []image.Image
	var times []float64
	var sqErr float64
	var values int
	for i, s := range samples {
		start := time.Now()
		codes, err := p.EncodeImages(ctx, []image.Image{s.Image})
		if err != nil {
			return nil, fmt.Errorf("evaluate: encode picture %d: %w", i, err)
		}
		res, err := p.DecodeCodes(ctx, codes)
		if err != nil {
			return nil, fmt.Errorf("evaluate: decode picture %d: %w", i, err)
		}
		times = append(times, time.Since(start).Seconds())
		for _, c := range codes.Indices {
			counts[c]++
		}
		imgs, err := imageio.ToNRGBA(res.Images, []int{res.N, res.H, res.W, 3}, imageio.NHWC, imageio.Unit)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		img := imgs[0]
		for y := range size {
			for x := range size {
				a, b := img.Pix[y*img.Stride+4*x:], s.Image.Pix[y*s.Image.Stride+4*x:]
				for c := range 3 {
					d := float64(a[c]) - float64(b[c])
					sqErr += d * d
					values++
				}
			}
		}
		if err := o.save(i, img, s.Caption); err != nil {
			return nil, err
		}
		recon = append(recon, shapes.Case{Image: img, Prompt: s.Caption})
		orig = append(orig, shapes.Case{Image: s.Image, Prompt: s.Caption})
		pictures = append(pictures, img)
		o.progress("reconstruct", i+1, o.N)
	}
	adh, err := shapes.Evaluate(recon)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	base, err := shapes.Evaluate(orig)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	rep.setAdherence(adh)
	rep.MedianSeconds = median(times)
	rep.Size = size
	r := &Reconstruction{CodebookSize: k, OriginalShape: base.Shape.Rate(), OriginalColor: base.Color.Rate(), OriginalPosition: base.Position.Rate()}
	mse := sqErr / float64(values)
	r.PSNR = 10 * math.Log10(255*255/math.Max(mse, 1e-12))
	total := 0
	for _, c := range counts {
		total += c
	}
	entropy := 0.0
	for _, c := range counts {
		if c == 0 {
			r.DeadCodes++
			continue
		}
		r.UsedCodes++
		q := float64(c) / float64(total)
		entropy -= q * math.Log(q)
	}
	r.Perplexity = math.Exp(entropy)
	rep.Reconstruction = r
	return pictures, nil
}
