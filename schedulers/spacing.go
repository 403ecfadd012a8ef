package schedulers

import (
	"fmt"
	"math"
)

// Timestep spacing and the linspace flavours of numpy and torch. diffusers
// builds its tables with these exact routines; reproducing their rounding
// keeps integer timesteps identical (a 0.5 that rounds the other way moves
// a timestep by one).

// npLinspace is numpy.linspace(start, stop, n) in float64: start + i*step,
// with the last value set to stop exactly.
func npLinspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	out[n-1] = stop
	return out
}

// torchLinspace32 is torch.linspace(start, end, n, dtype=torch.float32):
// float32 arithmetic, filled from both ends towards the middle.
func torchLinspace32(start, end float64, n int) []float64 {
	out := make([]float64, n)
	s, e := float32(start), float32(end)
	if n == 1 {
		out[0] = float64(s)
		return out
	}
	step := (e - s) / float32(n-1)
	half := n / 2
	for i := range out {
		if i < half {
			out[i] = float64(s + step*float32(i))
		} else {
			out[i] = float64(e - step*float32(n-i-1))
		}
	}
	return out
}

// checkSteps reports whether n inference steps fit the training schedule.
func checkSteps(c *Config, n int) error {
	if n < 1 {
		return fmt.Errorf("%w: %d (need at least 1)", ErrInvalidSteps, n)
	}
	if n > c.NumTrainTimesteps {
		return fmt.Errorf("%w: %d exceeds num_train_timesteps %d", ErrInvalidSteps, n, c.NumTrainTimesteps)
	}
	return nil
}

// spacedTimesteps returns n descending inference timesteps for the config's
// timestep_spacing, as DDPM, DDIM, Euler and Euler a compute them. With
// roundLinspace false, "linspace" keeps the fractional float32 values that
// the Euler schedulers use; the integer schedulers round half to even.
func spacedTimesteps(c *Config, n int, roundLinspace bool) ([]float64, error) {
	if err := checkSteps(c, n); err != nil {
		return nil, err
	}
	T := c.NumTrainTimesteps
	ts := make([]float64, n)
	switch c.TimestepSpacing {
	case SpacingLinspace:
		lin := npLinspace(0, float64(T-1), n)
		for i := range ts {
			v := lin[n-1-i]
			if roundLinspace {
				v = math.RoundToEven(v)
			} else {
				v = float32ish(v)
			}
			ts[i] = v
		}
	case SpacingLeading:
		ratio := T / n
		for i := range ts {
			ts[i] = float64((n-1-i)*ratio + c.StepsOffset)
		}
	case SpacingTrailing:
		ar := npArangeFill(float64(T), float64(T)/float64(n))
		if len(ar) != n {
			return nil, fmt.Errorf("%w: trailing spacing gives %d timesteps for %d steps", ErrInvalidSteps, len(ar), n)
		}
		for i := range ts {
			ts[i] = math.RoundToEven(ar[i]) - 1
		}
	default:
		return nil, fmt.Errorf("%w: unknown timestep_spacing %q", ErrInvalidConfig, c.TimestepSpacing)
	}
	return ts, nil
}
