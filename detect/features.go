package detect

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// Feature layout: SpectrumBins values of the log power spectrum, then for
// each of the 15 diagonals u+v of an 8x8 DCT block the mean log magnitude
// and the share of near-zero coefficients.
const (
	// SpectrumBins is the number of radial frequency bins of the spectrum.
	SpectrumBins = 12
	dctDiagonals = 15
	// NumFeatures is the length of the vector Features returns.
	NumFeatures = SpectrumBins + 3*dctDiagonals
	// maxSide caps the region the features are computed on: a larger
	// picture is center-cropped (the DFT here is O(n³)).
	maxSide = 256
	// zeroDCT is the magnitude (in 8-bit gray levels) under which a DCT
	// coefficient counts as zero; JPEG's quantization and a decoder's blur
	// both empty the high diagonals.
	zeroDCT = 0.5
)

// ErrTooSmall is returned by Features for pictures under 8x8 pixels.
var ErrTooSmall = errors.New("detect: picture smaller than 8x8 pixels")

// Features returns the frequency-artifact feature vector of img (length
// NumFeatures), computed on its luma (BT.601) in 8-bit levels.
func Features(img image.Image) ([]float64, error) {
	gray, w, h, err := luma(img)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, NumFeatures)
	out = append(out, radialSpectrum(gray, w, h)...)
	out = append(out, dctStatistics(gray, w, h)...)
	return out, nil
}

// luma returns img's luma as w*h values in [0, 255], center-cropped to at
// most maxSide on each side.
func luma(img image.Image) ([]float64, int, int, error) {
	b := img.Bounds()
	w, h := min(b.Dx(), maxSide), min(b.Dy(), maxSide)
	if w < 8 || h < 8 {
		return nil, 0, 0, fmt.Errorf("%w: %dx%d", ErrTooSmall, b.Dx(), b.Dy())
	}
	x0, y0 := b.Min.X+(b.Dx()-w)/2, b.Min.Y+(b.Dy()-h)/2
	gray := make([]float64, w*h)
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(x0+x, y0+y).RGBA()
			gray[y*w+x] = (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
		}
	}
	return gray, w, h, nil
}

// radialSpectrum returns the azimuthal average of the power spectrum of
// gray (mean removed) in SpectrumBins rings of normalized frequency
// radius up to Nyquist·√2, each as log of its share of the total power,
// so the vector describes the spectrum's shape, not the picture's
// contrast.
func radialSpectrum(gray []float64, w, h int) []float64 {
	power := powerSpectrum(gray, w, h)
	sums := make([]float64, SpectrumBins)
	counts := make([]int, SpectrumBins)
	total := 0.0
	for v := range h {
		fy := float64(min(v, h-v)) / float64(h)
		for u := range w {
			fx := float64(min(u, w-u)) / float64(w)
			r := math.Hypot(fx, fy) / (0.5 * math.Sqrt2)
			k := min(int(r*SpectrumBins), SpectrumBins-1)
			sums[k] += power[v*w+u]
			counts[k]++
			total += power[v*w+u]
		}
	}
	out := make([]float64, SpectrumBins)
	for k := range out {
		mean := 0.0
		if counts[k] > 0 {
			mean = sums[k] / float64(counts[k])
		}
		out[k] = math.Log((mean + 1e-6) / (total/float64(w*h) + 1e-6))
	}
	return out
}

// powerSpectrum returns |DFT|² of gray with its mean removed, by a
// separable DFT (rows, then columns) with precomputed twiddles.
func powerSpectrum(gray []float64, w, h int) []float64 {
	mean := 0.0
	for _, g := range gray {
		mean += g
	}
	mean /= float64(len(gray))
	re, im := make([]float64, w*h), make([]float64, w*h)
	cw, sw := twiddles(w)
	for y := range h {
		row := gray[y*w : (y+1)*w]
		for u := range w {
			var sr, si float64
			for x, g := range row {
				k := (u * x) % w
				sr += (g - mean) * cw[k]
				si -= (g - mean) * sw[k]
			}
			re[y*w+u], im[y*w+u] = sr, si
		}
	}
	ch, sh := twiddles(h)
	power := make([]float64, w*h)
	for u := range w {
		for v := range h {
			var sr, si float64
			for y := range h {
				k := (v * y) % h
				a, b := re[y*w+u], im[y*w+u]
				sr += a*ch[k] + b*sh[k]
				si += b*ch[k] - a*sh[k]
			}
			power[v*w+u] = sr*sr + si*si
		}
	}
	return power
}

func twiddles(n int) (cos, sin []float64) {
	cos, sin = make([]float64, n), make([]float64, n)
	for k := range n {
		a := 2 * math.Pi * float64(k) / float64(n)
		cos[k], sin[k] = math.Cos(a), math.Sin(a)
	}
	return cos, sin
}

// dctStatistics returns, for each diagonal u+v of the orthonormal 8x8
// DCT-II of gray's whole 8x8 blocks (JPEG's grid), the mean of
// log(1+|c|) and the share of coefficients under zeroDCT.
func dctStatistics(gray []float64, w, h int) []float64 {
	basis := dctBasis()
	logSum := make([]float64, dctDiagonals)
	zeros := make([]float64, dctDiagonals)
	small := make([]float64, dctDiagonals)
	counts := make([]float64, dctDiagonals)
	var block [64]float64
	for by := 0; by+8 <= h; by += 8 {
		for bx := 0; bx+8 <= w; bx += 8 {
			for y := range 8 {
				for x := range 8 {
					block[y*8+x] = gray[(by+y)*w+bx+x] - 128
				}
			}
			for v := range 8 {
				for u := range 8 {
					c := 0.0
					for y := range 8 {
						for x := range 8 {
							c += basis[v][y] * basis[u][x] * block[y*8+x]
						}
					}
					d := u + v
					c = math.Abs(c)
					logSum[d] += math.Log1p(c)
					if c < zeroDCT {
						zeros[d]++
					}
					if c < 4 {
						small[d]++
					}
					counts[d]++
				}
			}
		}
	}
	out := make([]float64, 0, 3*dctDiagonals)
	for d := range dctDiagonals {
		out = append(out, logSum[d]/counts[d])
	}
	for d := range dctDiagonals {
		out = append(out, zeros[d]/counts[d])
	}
	for d := range dctDiagonals {
		out = append(out, small[d]/counts[d])
	}
	return out
}

// dctBasis returns the orthonormal DCT-II matrix: basis[k][n].
func dctBasis() [8][8]float64 {
	var m [8][8]float64
	for k := range 8 {
		s := math.Sqrt(2.0 / 8)
		if k == 0 {
			s = math.Sqrt(1.0 / 8)
		}
		for n := range 8 {
			m[k][n] = s * math.Cos(math.Pi*float64(2*n+1)*float64(k)/16)
		}
	}
	return m
}
