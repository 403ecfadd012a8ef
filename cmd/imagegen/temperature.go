package main

import (
	"fmt"
	"math"

	"github.com/urfave/cli/v2"
)

// temperatureFlag returns --temperature when it is set (0, the model's own, otherwise),
// refusing values that are not finite and > 0 before any model loads.
func temperatureFlag(c *cli.Context, command string) (float64, error) {
	if !c.IsSet("temperature") {
		return 0, nil
	}
	t := c.Float64("temperature")
	if !(t > 0) || math.IsInf(t, 0) {
		return 0, fmt.Errorf("%s: --temperature must be a finite number > 0, got %v", command, t)
	}
	return t, nil
}
