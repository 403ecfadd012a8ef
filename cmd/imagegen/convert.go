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
		Usage:     "convert a safetensors checkpoint (diffusers folder or original single file; SD 1.x, 2.x, SDXL base) to an ONNX Optimum folder, in Go",
		ArgsUsage: "SRC OUT_DIR",
		Description: "SRC is a diffusers folder (unet/diffusion_pytorch_model.safetensors, vae/..., text_encoder/model.safetensors\n" +
			"with their config.json, tokenizer/, scheduler/) or a single .safetensors file in the original key layout\n" +
			"(SD 1.x, SD 2.x with OpenCLIP, SDXL base; it holds no tokenizer, so pass --tokenizer, and for SDXL --tokenizer-2,\n" +
			"default the same). The architecture is read off the tensors' shapes; SD 2.x files are taken as v-prediction\n" +
			"(768-v) and others as epsilon unless --prediction-type says otherwise (SD 2 base: epsilon).\n" +
			"OUT_DIR must not exist; it is written whole or not at all.\n\n" +
			"Examples:\n" +
			"   imagegen convert ./stable-diffusion-v1-5 ./sd15-onnx\n" +
			"   imagegen convert --fp16 --tokenizer ./sd15/tokenizer dreamshaper_8.safetensors ./dreamshaper-onnx",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "fp16", Usage: "store the weights as float16 (computation stays float32)"},
			&cli.StringFlag{Name: "tokenizer", Usage: "CLIP tokenizer `DIR` (vocab.json, merges.txt) for single-file checkpoints"},
			&cli.StringFlag{Name: "tokenizer-2", Usage: "SDXL's second tokenizer `DIR` (a diffusers repository's tokenizer_2; default --tokenizer)"},
			&cli.StringFlag{Name: "prediction-type", Usage: "single files: `epsilon` or v_prediction, in place of the guess"},
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
				switch pt := c.String("prediction-type"); pt {
				case "", "epsilon", "v_prediction":
				default:
					return fmt.Errorf("convert: --prediction-type %q: want epsilon or v_prediction", pt)
				}
				ck, err = convert.FromSingleFile(src, convert.SingleFileOptions{TokenizerDir: c.String("tokenizer"),
					Tokenizer2Dir: c.String("tokenizer-2"), PredictionType: c.String("prediction-type")})
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
