package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
)

// evalCommand measures a model of any family on the shapes dataset
// (package evaluate).
func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "measure a shapes model of any family: prompt adherence, Fréchet distance, bits/dim, time, parameters",
		Description: "Generates one image per held-out prompt of the shapes dataset (prompts the built-in models never saw)\n" +
			"and checks each with the analytic checker of package shapes: the dominant color of each shape,\n" +
			"its class from geometry, its size, and its grid cell or relation from the centroid. Then a Fréchet\n" +
			"distance between features of the pictures and of as many real held-out pictures on imagegen's frozen\n" +
			"shapes feature network (with the distance of two real sets beside it, the floor at this -n).\n" +
			"--likelihood adds bits/dim bounds on held-out pictures (ELBO, IWAE with 1 and 64 samples) for\n" +
			"families with a likelihood (the exact value for an autoregressive family). An image tokenizer (builtin:vqvae) is measured on its reconstructions\n" +
			"of held-out pictures instead: the checker, the distance, PSNR and codebook usage.\n\n" +
			"Examples:\n" +
			"   imagegen eval                 # the built-in model, 100 prompts\n" +
			"   imagegen eval --model builtin:vae --likelihood -n 200\n" +
			"   imagegen eval --model builtin:vqvae -n 200 --json\n" +
			"   imagegen eval --model builtin:pixelcnn --likelihood -n 200 --temperature 0.9\n" +
			"   imagegen eval --model ./my-shapes-model --save-dir eval-images",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "checkpoint folder, builtin:NAME, hf:ORG/NAME or models.yaml name (default: the built-in model)"},
			&cli.IntFlag{Name: "n", Value: 100, Usage: "number of held-out prompts (pictures, for a tokenizer)"},
			&cli.StringFlag{Name: "scheduler", Aliases: []string{"s"}, Usage: "sampler (default: the model's)"},
			&cli.IntFlag{Name: "steps", Usage: "inference steps (default: the model's)"},
			&cli.Float64Flag{Name: "guidance", Aliases: []string{"g"}, Usage: "guidance scale (default: the model's)"},
			&cli.Float64Flag{Name: "classifier-scale", Usage: "classifier guidance scale S ≥ 0 (models with a classifier, such as builtin:ddpm; default 0: off)"},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the first image; image i uses seed+i"},
			&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature > 0 of flows and autoregressive models (default: the model's)"},
			&cli.IntFlag{Name: "size", Usage: "image side in pixels (default: the model's)"},
			&cli.BoolFlag{Name: "likelihood", Usage: "also bits/dim on held-out pictures (families with a likelihood)"},
			&cli.IntFlag{Name: "likelihood-n", Usage: "held-out pictures for --likelihood (default: -n)"},
			&cli.BoolFlag{Name: "no-frechet", Usage: "skip the Fréchet distance"},
			&cli.StringFlag{Name: "save-dir", Usage: "also write every image as a PNG into `DIR`"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: runEval,
	}
}

// evalReport is eval's result.
type evalReport = evaluate.Report

func runEval(c *cli.Context) error {
	n := c.Int("n")
	if n < 1 {
		return fmt.Errorf("eval: -n must be at least 1, got %d", n)
	}
	if c.IsSet("steps") && c.Int("steps") < 1 {
		return fmt.Errorf("eval: --steps must be at least 1, got %d", c.Int("steps"))
	}
	dir, entry, err := resolveModelOrDefault(c, c.String("model"))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	req := pipeline.Request{Scheduler: c.String("scheduler"), Steps: c.Int("steps"), Height: c.Int("size"), Width: c.Int("size"),
		ClassifierScale: c.Float64("classifier-scale")}
	if c.IsSet("guidance") {
		g := c.Float64("guidance")
		req.Guidance = &g
	}
	if req.Temperature, err = temperatureFlag(c, "eval"); err != nil {
		return err
	}
	name := filepath.Base(filepath.Clean(dir))
	if entry != nil {
		name = entry.Name
		pipeline.Defaults(entry.Defaults).Apply(&req)
	}
	if err := initRuntime(c); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	sess := ort.Options{IntraOpThreads: c.Int("threads")}
	pipe, err := pipeline.Load(c.Context, dir, pipeline.Options{Session: sess})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer pipe.Close()
	opts := evaluate.Options{
		N: n, Seed: c.Uint64("seed"), Request: req, NoFrechet: c.Bool("no-frechet"),
		Likelihood: c.Bool("likelihood"), LikelihoodN: c.Int("likelihood-n"), SaveDir: c.String("save-dir"), Session: sess,
	}
	var bar *progressbar.ProgressBar
	if showProgress(c) {
		stage := ""
		opts.Progress = func(s string, done, total int) {
			if s != stage {
				if bar != nil {
					bar.Finish()
				}
				stage = s
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(s),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			bar.Set(done)
		}
	}
	rep, err := evaluate.Run(c.Context, pipe, name, opts)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if c.Bool("json") {
		return printJSON(rep)
	}
	printEval(rep)
	return nil
}

func printEval(r *evaluate.Report) {
	if r.Reconstruction != nil {
		fmt.Printf("model %s (%s, %s parameters): reconstructions of %d held-out %dx%d pictures\n", r.Model, r.Family, humanCount(r.Parameters), r.Prompts, r.Size, r.Size)
	} else {
		sampler := ""
		if r.Scheduler != "" {
			sampler = fmt.Sprintf(", %s %d steps, guidance %g", r.Scheduler, r.Steps, r.Guidance)
			if r.ClassifierScale > 0 {
				sampler += fmt.Sprintf(", classifier scale %g", r.ClassifierScale)
			}
		}
		through := ""
		if r.Stage != "" {
			through = " through the cascade stage " + r.Stage
		}
		fmt.Printf("model %s (%s, %s parameters)%s, %dx%d%s\n", r.Model, r.Family, humanCount(r.Parameters), sampler, r.Size, r.Size, through)
	}
	fmt.Println(r.Text)
	if rc := r.Reconstruction; rc != nil {
		fmt.Printf("originals: color %.1f%%, shape %.1f%%, position %.1f%%; reconstructions keep %.1f%% of the shape score\n",
			100*rc.OriginalColor, 100*rc.OriginalShape, 100*rc.OriginalPosition, 100*r.Shape/max(rc.OriginalShape, 1e-9))
		fmt.Printf("PSNR %.2f dB; codebook %d codes, %d used, %d dead, perplexity %.1f\n", rc.PSNR, rc.CodebookSize, rc.UsedCodes, rc.DeadCodes, rc.Perplexity)
	}
	if r.Frechet != nil {
		fmt.Printf("Fréchet distance %.3f (two real sets of %d: %.3f)\n", *r.Frechet, r.Prompts, *r.FrechetReal)
	}
	if b := r.Bits; b != nil && b.Exact {
		fmt.Printf("bits/dim on %d held-out pictures: %.4f (exact likelihood)\n", b.Pictures, b.ELBO)
	} else if b != nil {
		fmt.Printf("bits/dim on %d held-out pictures: ELBO %.4f, IWAE k=1 %.4f, IWAE k=64 %.4f\n", b.Pictures, b.ELBO, b.IWAE1, b.IWAE64)
	}
	fmt.Printf("median %.3f s per image\n", r.MedianSeconds)
}
