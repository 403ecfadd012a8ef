package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a Stable-Diffusion-layout ONNX model (Optimum folder) defined in Go, with random weights",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Value: "tiny-sd", Usage: "architecture: " + strings.Join(onnxexport.ArchNames(), ", ") + " (sd15 and sd21 are full size, ~4 and ~5 GB)"},
			&cli.BoolFlag{Name: "random-weights", Value: true, Usage: "initialize weights randomly from --seed (the only source of weights for now)"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "random seed for the weights"},
			&cli.BoolFlag{Name: "fp16-weights", Usage: "store weights as float16 (computation stays float32)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("export: want one DIR argument, got %d", c.NArg())
			}
			if !c.Bool("random-weights") {
				return fmt.Errorf("export: only --random-weights is supported; trained weights come from `imagegen train`")
			}
			cfg, err := onnxexport.ArchByName(c.String("arch"))
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			dir := c.Args().First()
			opts := onnxexport.ExportOptions{Seed: c.Uint64("seed"), Float16Weights: c.Bool("fp16-weights")}
			var bar *progressbar.ProgressBar
			if showProgress(c) {
				opts.Progress = func(stage string, done, total int64) {
					if total == 0 {
						if bar != nil {
							bar.Finish()
							bar = nil
						}
						fmt.Fprintf(os.Stderr, "building %s\n", stage)
						return
					}
					if bar == nil {
						bar = progressbar.DefaultBytes(total, "writing "+stage)
					}
					bar.Set64(done)
				}
			}
			if err := onnxexport.ExportOptimum(dir, cfg, opts); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if bar != nil {
				bar.Finish()
			}
			if !c.Bool("quiet") {
				fmt.Fprintf(os.Stderr, "wrote %s (%s, seed %d)\n", dir, cfg.Name, opts.Seed)
			}
			return nil
		},
	}
}
