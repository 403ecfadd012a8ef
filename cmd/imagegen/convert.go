package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/convert"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert a safetensors checkpoint (diffusers folder or original single file, SD 1.x/2.x) to an ONNX Optimum folder, in Go",
		ArgsUsage: "SRC OUT_DIR",
		Description: "SRC is a diffusers folder (unet/diffusion_pytorch_model.safetensors, vae/..., text_encoder/model.safetensors\n" +
			"with their config.json, tokenizer/, scheduler/) or a single .safetensors file in the original key layout\n" +
			"(SD 1.x; it holds no tokenizer, so pass --tokenizer). OUT_DIR must not exist; it is written whole or not at all.\n\n" +
			"Examples:\n" +
			"   imagegen convert ./stable-diffusion-v1-5 ./sd15-onnx\n" +
			"   imagegen convert --fp16 --tokenizer ./sd15/tokenizer dreamshaper_8.safetensors ./dreamshaper-onnx",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "fp16", Usage: "store the weights as float16 (computation stays float32)"},
			&cli.StringFlag{Name: "tokenizer", Usage: "CLIP tokenizer `DIR` (vocab.json, merges.txt) for single-file checkpoints"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("convert: want SRC and OUT_DIR, got %d arguments", c.NArg())
			}
			src, out := c.Args().Get(0), c.Args().Get(1)
			st, err := os.Stat(src)
			if err != nil {
				return fmt.Errorf("convert: %w", err)
			}
			start := time.Now()
			var ck *convert.Checkpoint
			if st.IsDir() {
				ck, err = convert.FromDiffusers(src)
			} else {
				ck, err = convert.FromSingleFile(src, convert.SingleFileOptions{TokenizerDir: c.String("tokenizer")})
			}
			if err != nil {
				return err
			}
			opts := convert.Options{Float16: c.Bool("fp16")}
			if showProgress(c) {
				opts.Progress = func(stage string, done, total int64) {
					if total == 0 {
						fmt.Fprintf(os.Stderr, "building %s\n", stage)
					}
				}
			}
			if err := convert.Write(ck, out, opts); err != nil {
				return err
			}
			abs, _ := filepath.Abs(out)
			fmt.Printf("%s (%.1f s)\n", abs, time.Since(start).Seconds())
			return nil
		},
	}
}
