package schedulers

import "math"

// NumPy-faithful building blocks. diffusers builds its inference schedules
// with numpy in float64 and then rounds them to integers, so a value that
// lands on .5 one ulp differently rounds to another timestep. These helpers
// reproduce numpy's arithmetic order, not just its mathematics.

// npLinspaceAt is element i of np.linspace(start, stop, n): i*step + start
// with step = (stop-start)/(n-1), and the last element exactly stop.
func npLinspaceAt(start, stop float64, n, i int) float64 {
	if n <= 1 {
		return start
	}
	if i == n-1 {
		return stop
	}
	step := (stop - start) / float64(n-1)
	if step == 0 {
		return float64(i)/float64(n-1)*(stop-start) + start
	}
	return float64(i)*step + start
}

// npArangeFill is np.arange(start, 0, -step) for a positive float step,
// value for value: ceil((0-start)/-step) elements start + i*delta, where
// numpy's fill takes delta = (start - step) - start rather than -step. The
// difference is an ulp, enough to flip a .5 under rounding (trailing
// spacing with 48 steps of 1000 does).
func npArangeFill(start, step float64) []float64 {
	n := int(math.Ceil((0 - start) / -step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	delta := (start - step) - start
	for i := range out {
		out[i] = start + float64(i)*delta
	}
	if n > 1 {
		out[1] = start - step
	}
	return out
}

// npInterpUnit is np.interp(x, arange(len(fp)), fp): linear interpolation
// over points at 0, 1, 2, ..., clamped at both ends.
func npInterpUnit(x float64, fp []float64) float64 {
	last := len(fp) - 1
	switch {
	case x <= 0:
		return fp[0]
	case x >= float64(last):
		return fp[last]
	}
	j := int(math.Floor(x))
	if float64(j) == x {
		return fp[j]
	}
	slope := fp[j+1] - fp[j]
	return slope*(x-float64(j)) + fp[j]
}

// truncInt64 is numpy/torch's float to int64 cast, which truncates toward
// zero; diffusers relies on it for the un-rounded sigma-derived timesteps.
func truncInt64(v float64) float64 { return math.Trunc(v) }

// torchSigmas is ((1 - ac) / ac) ** 0.5 evaluated in float32 as diffusers'
// torch code does, one sigma per training timestep.
func torchSigmas(ac []float64) []float64 {
	s := make([]float64, len(ac))
	for i, a := range ac {
		af := float32(a)
		v := (1 - af) / af
		s[i] = float64(float32(math.Sqrt(float64(v))))
	}
	return s
}

// float32Log is np.log over a float32 array.
func float32Log(s []float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(float32(math.Log(v)))
	}
	return out
}
