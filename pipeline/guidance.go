package pipeline

import (
	"math"

	"github.com/imagegen/imagegen/ort"
)

// guidanceEmbedding is the sinusoidal embedding of (guidance - 1) that LCM
// UNets take as timestep_cond (diffusers' get_guidance_scale_embedding,
// after "Improved techniques for training consistency models"), computed in
// float32 as torch does.
func guidanceEmbedding(guidance float64, dim, batch int) ort.Tensor {
	w := float32(guidance-1) * 1000
	half := dim / 2
	row := make([]float32, dim)
	step := float32(math.Log(10000)) / float32(half-1)
	for k := 0; k < half; k++ {
		f := float32(math.Exp(float64(float32(k) * -step)))
		a := w * f
		row[k] = float32(math.Sin(float64(a)))
		row[half+k] = float32(math.Cos(float64(a)))
	}
	rows := make([][]float32, batch)
	for i := range rows {
		rows[i] = row
	}
	return stack(rows, int64(dim))
}

// combineCFG writes uncond + g·(cond − uncond) into dst, where out holds
// the unconditional half followed by the conditional half.
func combineCFG(dst, out []float32, g float32) {
	n := len(dst)
	uncond, cond := out[:n], out[n:2*n]
	for i := range dst {
		dst[i] = uncond[i] + g*(cond[i]-uncond[i])
	}
}

// rescaleCFG applies guidance rescale (Lin et al. 2023, section 3.4) per
// sample: the guided prediction is scaled to the standard deviation of the
// conditional one and blended with weight phi. Standard deviations are
// unbiased, as torch.std computes them.
func rescaleCFG(guided, cond []float32, batch int, phi float64) {
	n := len(guided) / batch
	for b := 0; b < batch; b++ {
		g, c := guided[b*n:(b+1)*n], cond[b*n:(b+1)*n]
		ratio := std(c) / std(g)
		for i := range g {
			rescaled := float64(g[i]) * ratio
			g[i] = float32(phi*rescaled + (1-phi)*float64(g[i]))
		}
	}
}

func std(x []float32) float64 {
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// combineCFGFrames is combineCFG with a guidance scale per frame: the
// latents are blocks of frameSize values, frame-major within each clip
// ([B, F, C, h, w]), and block j takes scales[j mod F], as SVD's
// per-frame guidance does.
func combineCFGFrames(dst, out []float32, scales []float32, frameSize int) {
	n := len(dst)
	uncond, cond := out[:n], out[n:2*n]
	for j := 0; j*frameSize < n; j++ {
		g := scales[j%len(scales)]
		lo, hi := j*frameSize, (j+1)*frameSize
		for i := lo; i < hi; i++ {
			dst[i] = uncond[i] + g*(cond[i]-uncond[i])
		}
	}
}

// frameGuidance is SVD's per-frame guidance, torch.linspace(lo, hi, n) in
// float32 as torch computes it: from the start for the first half, from
// the end for the second, so both ends are exact.
func frameGuidance(lo, hi float64, n int) []float32 {
	g := make([]float32, n)
	if n == 1 {
		g[0] = float32(lo)
		return g
	}
	start, end := float32(lo), float32(hi)
	step := (end - start) / float32(n-1)
	for i := range g {
		if i < n/2 {
			g[i] = start + step*float32(i)
		} else {
			g[i] = end - step*float32(n-i-1)
		}
	}
	return g
}
