package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// trainCommand trains one of onnx_export's built-in small architectures on
// its built-in synthetic data, with the whole training step run by ONNX
// Runtime, and exports the EMA weights as an ONNX inference model.
func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a small built-in network on built-in synthetic data (a demonstration of Go-native training graphs) and export it to ONNX",
		Description: "Architectures: " + trainArchDocs() + ".\n\n" +
			"The data are generated, not real images: this shows the training loop, it does not make a useful image model.\n" +
			"DIR gets checkpoint.bin (weights, AdamW state, EMA, step, RNG; --resume continues from it exactly)\n" +
			"and model.onnx, the inference graph with the EMA weights.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "arch", Value: "mlp", Usage: "architecture: " + strings.Join(onnxexport.TrainArchNames(), ", ")},
			&cli.IntFlag{Name: "steps", Value: 500, Usage: "train until this many steps in total"},
			&cli.StringFlag{Name: "out", Usage: "output `DIR` (created)", Required: true},
			&cli.BoolFlag{Name: "resume", Usage: "continue from DIR/checkpoint.bin"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of the initial weights, the data and the shuffling"},
			&cli.Int64Flag{Name: "batch", Usage: "batch size (default: the architecture's)"},
			&cli.Float64Flag{Name: "lr", Usage: "peak learning rate (default: the architecture's)"},
			&cli.IntFlag{Name: "warmup", Value: -1, Usage: "linear warmup steps (default: 5% of --steps)"},
			&cli.Float64Flag{Name: "weight-decay", Value: 0.01, Usage: "AdamW weight decay"},
			&cli.Float64Flag{Name: "clip", Value: 1, Usage: "global gradient-norm clipping (0: off)"},
			&cli.Float64Flag{Name: "ema-decay", Value: 0.999, Usage: "decay of the exported weight average"},
			&cli.IntFlag{Name: "checkpoint-every", Value: 200, Usage: "write DIR/checkpoint.bin every N steps (0: only at the end)"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0: its default)"},
		},
		Action: runTrain,
	}
}

func trainArchDocs() string {
	var parts []string
	for _, n := range onnxexport.TrainArchNames() {
		a, _ := onnxexport.TrainArchByName(n)
		parts = append(parts, n+" ("+a.Doc+")")
	}
	return strings.Join(parts, "; ")
}

func runTrain(c *cli.Context) error {
	arch, err := onnxexport.TrainArchByName(c.String("arch"))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	steps := c.Int("steps")
	if steps < 1 {
		return fmt.Errorf("train: --steps must be at least 1, got %d", steps)
	}
	batch, lr := arch.Batch, arch.LR
	if c.IsSet("batch") {
		batch = c.Int64("batch")
	}
	if c.IsSet("lr") {
		lr = c.Float64("lr")
	}
	if batch < 1 {
		return fmt.Errorf("train: --batch must be at least 1, got %d", batch)
	}
	warmup := c.Int("warmup")
	if warmup < 0 {
		warmup = steps / 20
	}
	dir := c.String("out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := initRuntime(c); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	seed := c.Uint64("seed")
	b, loss := arch.Loss(seed, batch)
	cfg := onnxexport.AdamWConfig{WeightDecay: c.Float64("weight-decay"), NoWeightDecay: c.Float64("weight-decay") == 0,
		MaxGradNorm: c.Float64("clip"), EMADecay: c.Float64("ema-decay")}
	graph, err := onnxexport.NewTrainGraph(b, loss, cfg)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	opts := onnxexport.TrainerOptions{
		Schedule: onnxexport.LRSchedule{Peak: lr, Min: lr / 10, Warmup: warmup, Total: steps},
		Seed:     seed, Threads: c.Int("threads"),
	}
	if showProgress(c) {
		opts.Progress = os.Stderr
	}
	tr, err := onnxexport.NewTrainer(graph, arch.Data(seed), opts)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer tr.Close()
	ckpt := filepath.Join(dir, "checkpoint.bin")
	if c.Bool("resume") {
		if err := tr.Load(ckpt); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("train: --resume: no checkpoint in %s", dir)
			}
			return fmt.Errorf("train: --resume: %w", err)
		}
	}
	every := c.Int("checkpoint-every")
	var last onnxexport.StepInfo
	for tr.StepCount() < steps {
		until := steps
		if every > 0 {
			until = min(steps, (tr.StepCount()/every+1)*every)
		}
		if last, err = tr.Run(c.Context, until); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if err := tr.Save(ckpt); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	inf := arch.Inference(seed)
	if err := inf.LoadParams(tr.Weights(true)); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	m, err := inf.Build()
	if err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	modelPath := filepath.Join(dir, "model.onnx")
	if err := onnxexport.Save(modelPath, m); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	if !c.Bool("quiet") {
		if last.Step > 0 {
			fmt.Printf("step %d: loss %.6f, grad norm %.4f, lr %.2e\n", last.Step, last.Loss, last.GradNorm, last.LR)
		}
		fmt.Printf("wrote %s (EMA weights) and %s\n", modelPath, ckpt)
	}
	return nil
}
