package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "print ONNX Runtime version, execution providers, CPU features, cache and models.yaml files",
		Action: func(c *cli.Context) error {
			return errors.New("doctor: not wired yet")
		},
	}
}

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "list the models named in models.yaml files",
		Action: func(c *cli.Context) error {
			return errors.New("models: not wired yet")
		},
	}
}
