package main

import "math"

// The likelihood of the model in host code, for the bounds the script
// reports: p(z) = N(0, I), q(z | x, c) = N(mean, diag exp(logvar)) and
// p(x | z, c) = Π N(x_i; μ_i(z, c), σ_ch(i)²) over the D = 3·32·32 values
// of a picture in [-1, 1] units. Everything is in nats until bitsPerDim.

var halfLog2Pi = 0.5 * math.Log(2*math.Pi)

// logLikelihood returns log p(x | z, c) given the decoder's mean mu
// (CHW, like x) and the per-channel log σ.
func logLikelihood(x, mu []float32, logStd [3]float64) float64 {
	per := len(x) / 3
	var sum float64
	for c := range 3 {
		inv := math.Exp(-logStd[c])
		var sq float64
		for i := c * per; i < (c+1)*per; i++ {
			d := (float64(x[i]) - float64(mu[i])) * inv
			sq += d * d
		}
		sum += -0.5*sq - float64(per)*(logStd[c]+halfLog2Pi)
	}
	return sum
}

// logPrior returns log N(z; 0, I).
func logPrior(z []float32) float64 {
	var sum float64
	for _, v := range z {
		sum += -0.5*float64(v)*float64(v) - halfLog2Pi
	}
	return sum
}

// logPosterior returns log N(z; mean, diag exp(logvar)).
func logPosterior(z, mean, logvar []float32) float64 {
	var sum float64
	for i := range z {
		d := float64(z[i]) - float64(mean[i])
		lv := float64(logvar[i])
		sum += -0.5*d*d*math.Exp(-lv) - 0.5*lv - halfLog2Pi
	}
	return sum
}

// klPerDim adds to dst the KL divergence of each dimension of
// N(mean, exp(logvar)) from N(0, 1) and returns their sum.
func klPerDim(mean, logvar []float32, dst []float64) float64 {
	var sum float64
	for i := range mean {
		m, lv := float64(mean[i]), float64(logvar[i])
		kl := 0.5 * (m*m + math.Exp(lv) - 1 - lv)
		dst[i] += kl
		sum += kl
	}
	return sum
}

// iwaeBound returns the importance-weighted bound of Burda et al. 2016
// ("Importance weighted autoencoders") from the log weights
// log p(x, z_i) − log q(z_i | x) of k samples: log (1/k) Σ exp(logW_i).
// With k = 1 it is a one-sample estimate of the ELBO; it rises towards
// log p(x) as k grows.
func iwaeBound(logW []float64) float64 {
	top := math.Inf(-1)
	for _, v := range logW {
		top = max(top, v)
	}
	var sum float64
	for _, v := range logW {
		sum += math.Exp(v - top)
	}
	return top + math.Log(sum) - math.Log(float64(len(logW)))
}

// bitsPerDim turns a negative log-density per picture (nats, over the
// dequantized data) into bits per dimension of the 8-bit data: divided by
// D·ln 2, plus log₂(256/2) = 7 for the bins' width of 2/256.
func bitsPerDim(nll float64) float64 {
	return nll/(pixels*math.Ln2) - math.Log2(binWidth)
}
