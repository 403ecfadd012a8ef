package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/quantize"
)

func quantizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "quantize",
		Usage:     "write a weight-only int8/int4 copy of an ONNX checkpoint (MatMul weights as ONNX Runtime's MatMulNBits)",
		ArgsUsage: "MODEL_DIR OUT_DIR",
		Description: "Every constant MatMul/Gemm weight of the chosen components (all by default) is stored in --bits-bit\n" +
			"codes with a scale and zero point per --block-size weights along the input dimension; the pictures are still\n" +
			"computed in float. Convolutions, normalizations and small weights stay float. The rest of the folder is copied,\n" +
			"so OUT_DIR is an ordinary checkpoint for --model. OUT_DIR is written whole or not at all; an existing\n" +
			"non-empty one is refused unless --force.\n\n" +
			"Examples:\n" +
			"   imagegen quantize ./sd15-onnx ./sd15-q8 --bits 8\n" +
			"   imagegen quantize ./sd15-onnx ./sd15-q4 --bits 4 --components unet,text_encoder",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "bits", Usage: "bits per weight: 8 or 4 (required)"},
			&cli.IntFlag{Name: "block-size", Value: 32, Usage: "weights per scale along K: a power of two, at least 16"},
			&cli.StringFlag{Name: "components", Usage: "comma-separated component folders to quantize (default: all with a model.onnx)"},
			&cli.Int64Flag{Name: "min-weights", Usage: "leave weights with fewer elements in float (default 16384; -1: none)"},
			&cli.IntFlag{Name: "accuracy-level", Value: 4, Usage: "MatMulNBits accuracy_level: 1 float32 compute, 4 int8 activations per block (faster)"},
			&cli.BoolFlag{Name: "conv", Usage: "also convolutions: int8 weights and activations quantized at run time (ConvInteger); less accurate"},
			&cli.BoolFlag{Name: "force", Usage: "replace a non-empty OUT_DIR"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("quantize: want MODEL_DIR and OUT_DIR, got %d arguments", c.NArg())
			}
			if !c.IsSet("bits") {
				return fmt.Errorf("quantize: --bits 8 or --bits 4 is required")
			}
			src, out := c.Args().Get(0), c.Args().Get(1)
			if st, err := os.Stat(src); err != nil {
				return fmt.Errorf("quantize: %w", err)
			} else if !st.IsDir() {
				return fmt.Errorf("quantize: %s is not a checkpoint folder", src)
			}
			opts := quantize.Options{
				Bits: c.Int("bits"), BlockSize: c.Int("block-size"), MinWeights: c.Int64("min-weights"),
				AccuracyLevel: c.Int("accuracy-level"), Conv: c.Bool("conv"), Force: c.Bool("force"),
			}
			if s := c.String("components"); s != "" {
				opts.Components = strings.Split(s, ",")
			}
			start := time.Now()
			progress := showProgress(c)
			compStart := start
			opts.Progress = func(r quantize.ComponentReport) {
				if !r.Done {
					compStart = time.Now()
					if progress {
						fmt.Fprintf(os.Stderr, "quantizing %s ...\n", r.Component)
					}
					return
				}
				if c.Bool("quiet") {
					return
				}
				fmt.Fprintf(os.Stderr, "%-14s %4d MatMul → MatMulNBits (%d small kept float), %d Conv → ConvInteger, weights %s → %s, files %s → %s (%.1f s)\n",
					r.Component, r.Quantized, r.Kept, r.Convs, mib(r.FloatBytes), mib(r.PackedBytes), mib(r.InBytes), mib(r.OutBytes),
					time.Since(compStart).Seconds())
			}
			if _, err := quantize.Checkpoint(src, out, opts); err != nil {
				return err
			}
			abs, _ := filepath.Abs(out)
			fmt.Printf("%s (%.1f s)\n", abs, time.Since(start).Seconds())
			return nil
		},
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
