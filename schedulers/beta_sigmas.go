package schedulers

import "math"

// defaultBetaSigmaShape is the alpha = beta of the beta sigma schedule;
// diffusers fixes it at 0.6 (Lee et al. 2024, "Beta Sampling is All You
// Need").
const defaultBetaSigmaShape = 0.6

// sigmasBeta spaces n sigmas from sigmaMax down to sigmaMin at the
// quantiles of a Beta(a, b) distribution taken at 1 - linspace(0, 1, n)
// (Lee et al. 2024, "Beta Sampling is All You Need"): with a = b < 1 the
// steps crowd at both ends of the schedule.
func sigmasBeta(sigmaMin, sigmaMax float64, n int, a, b float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		q := 1 - linspaceAt(0, 1, n, i)
		s[i] = sigmaMin + betaPPF(q, a, b)*(sigmaMax-sigmaMin)
	}
	return s
}

// betaPPF inverts the regularized incomplete beta function by bisection;
// the CDF is monotone, so 200 halvings reach full float64 precision.
func betaPPF(q, a, b float64) float64 {
	if q <= 0 {
		return 0
	}
	if q >= 1 {
		return 1
	}
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if betaCDF(mid, a, b) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// betaCDF is the regularized incomplete beta function I_x(a, b), by its
// continued fraction on whichever side converges fast.
func betaCDF(x, a, b float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(x, a, b) / a
	}
	return 1 - front*betaContinuedFraction(1-x, b, a)/b
}

// betaContinuedFraction evaluates the continued fraction of I_x(a, b) with
// the modified Lentz method.
func betaContinuedFraction(x, a, b float64) float64 {
	const tiny = 1e-300
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	f := d
	for m := 1; m <= 500; m++ {
		fm := float64(m)
		// Even term.
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		f *= d * c
		// Odd term.
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		f *= delta
		if math.Abs(delta-1) < 1e-16 {
			break
		}
	}
	return f
}
