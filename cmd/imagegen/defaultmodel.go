package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/pipeline"
)

// resolveModelOrDefault is resolveModel, except that no --model (or the
// name "default" when no folder of that name exists) picks the built-in
// shapes model, written into the user's cache on first use.
func resolveModelOrDefault(c *cli.Context, nameOrPath string) (string, *modelreg.Model, error) {
	if nameOrPath != "" && nameOrPath != defaultmodel.Name {
		return resolveModel(c, nameOrPath)
	}
	if nameOrPath == defaultmodel.Name {
		if _, err := os.Stat(nameOrPath); err == nil {
			return resolveModel(c, nameOrPath)
		}
	}
	dir, err := defaultmodel.Dir("")
	if err != nil {
		return "", nil, fmt.Errorf("built-in model: %w", err)
	}
	m := &modelreg.Model{Name: defaultmodel.Name, Source: dir, Family: "sd1", Defaults: defaultmodel.Defaults()}
	return dir, m, nil
}

// applyDefaults fills the request fields left at zero from a model's
// defaults.
func applyDefaults(req *pipeline.Request, d modelreg.Defaults) {
	if req.Scheduler == "" {
		req.Scheduler = d.Scheduler
	}
	if req.Steps == 0 {
		req.Steps = d.Steps
	}
	if req.Guidance == nil {
		req.Guidance = d.Guidance
	}
	if req.Height == 0 && req.Width == 0 {
		req.Height, req.Width = d.Height, d.Width
	}
}
