// Command train_sr trains imagegen's built-in super-resolution stage
// (builtin:sr): a small fully convolutional diffusion model that draws a
// 128x128 picture from a 32x32 one (builtin:default's), conditioned on
// the low-resolution picture by concatenation and trained with
// noise-conditioning augmentation of it (Imagen's cascade, SD x4
// upscaler's noise_level), on random crops of shapes scenes rendered at
// both sizes.
//
//	go run ./scripts/train_sr -threads 1 -steps 3000              # resumable
//	go run ./scripts/train_sr -export-only -out builtin/models/sr
//	go run ./scripts/train_sr -check builtin/models/sr -base-pictures DIR
//
// Checkpoints and the loss CSV go to -state (git-ignored).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/upscale"
)

type options struct {
	state, out, name string
	steps, every     int
	batch, crop      int64
	lr               float64
	pictures         int
	maxLevel         int
	threads          int
	seed             uint64
	probe            bool
	exportOnly       bool
	ema              bool
	check, base      string
	checkN           int
	checkSteps       int
	checkLevel       int
	grid             string
	prediction       string
	initFrom         string
	// What the exported model_index.json suggests for inference.
	defSteps, defLevel int
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_sr/state", "folder for checkpoints and the loss CSV")
	flag.StringVar(&o.out, "out", "", "export the trained stage to this `folder` (replaced)")
	flag.StringVar(&o.name, "name", "sr", "checkpoint `name` (STATE/NAME.ckpt)")
	flag.IntVar(&o.steps, "steps", 3000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 16, "batch size")
	flag.Int64Var(&o.crop, "crop", 16, "training crop side in low-resolution pixels (the high-resolution crop is 4 times that)")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, cosine decay)")
	flag.IntVar(&o.pictures, "pictures", 50000, "training scenes (the first of the train split)")
	flag.IntVar(&o.maxLevel, "max-noise-level", 250, "largest augmentation level of the low-resolution picture (a timestep of the diffusion schedule)")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 200, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainer's RNG")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the last checkpoint's weights to -out without training (a copy of the checkpoint is read, so a run may go on beside it)")
	flag.StringVar(&o.prediction, "prediction", "sample", "what the denoiser predicts: sample (the clean picture) or v_prediction (v: its output must carry the sample's noise through at a timestep-dependent gain, and 1,200 steps of it still left grain in flat areas)")
	flag.StringVar(&o.initFrom, "init-from", "", "start a fresh run from the weights of checkpoint `NAME` (STATE/NAME.ckpt) with conv_out zeroed, so it starts at the bilinear picture")
	flag.BoolVar(&o.ema, "ema", false, "export the weights' moving average (decay 0.999) instead of the weights (the average of a short run still holds much of the random initialization: 0.999^3000 = 5%)")
	flag.StringVar(&o.check, "check", "", "measure the exported stage in `DIR` (PSNR and outline sharpness against 128x128 renders, beside bicubic) and exit")
	flag.StringVar(&o.base, "base-pictures", "", "with -check: `DIR` of builtin:default's pictures saved by imagegen eval --size 32 --save-dir, to score with the shapes checker at 32 and enlarged")
	flag.IntVar(&o.checkN, "check-n", 300, "held-out scenes and prompts -check uses")
	flag.StringVar(&o.grid, "grid", "", "with -check and -base-pictures: write the first 6 pictures (nearest neighbour, bicubic, the stage; one row each) to this `PNG`")
	flag.IntVar(&o.checkSteps, "check-steps", 0, "with -check: the stage's denoising steps (0: its own)")
	flag.IntVar(&o.checkLevel, "check-noise-level", -1, "with -check: the stage's augmentation level (-1: its own)")
	flag.IntVar(&o.defSteps, "default-steps", 4, "the DDIM steps written to model_index.json")
	flag.IntVar(&o.defLevel, "default-noise-level", 20, "the augmentation level written to model_index.json")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_sr:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.prediction != "sample" && o.prediction != "v_prediction" {
		return fmt.Errorf("-prediction %q: want sample or v_prediction", o.prediction)
	}
	if o.crop < 4 || o.crop > lowSize {
		return fmt.Errorf("-crop %d: want 4..%d", o.crop, lowSize)
	}
	if o.maxLevel < 0 || o.maxLevel >= trainSteps {
		return fmt.Errorf("-max-noise-level %d: want 0..%d", o.maxLevel, trainSteps-1)
	}
	if o.defLevel < 0 || o.defLevel > o.maxLevel {
		return fmt.Errorf("-default-noise-level %d: want 0..%d (-max-noise-level)", o.defLevel, o.maxLevel)
	}
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	if o.check != "" {
		run := upscale.RunOptions{Steps: o.checkSteps}
		if o.checkLevel >= 0 {
			run.NoiseLevel = &o.checkLevel
		}
		return check(ctx, o.check, o.base, o.grid, o.checkN, o.threads, run)
	}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return err
	}
	b, loss := srLoss(o.seed, o.batch, o.crop)
	topts := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}
	if _, err := os.Stat(filepath.Join(o.state, o.name+".ckpt")); os.IsNotExist(err) && o.initFrom != "" && !o.exportOnly {
		if err := initFrom(ctx, topts, o, b); err != nil {
			return err
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return err
	}
	data := &cropPairs{n: o.pictures, crop: int(o.crop), maxLevel: o.maxLevel, ac: alphasCumprod(), vTarget: o.prediction == "v_prediction"}
	switch {
	case o.probe:
		return trainrun.Probe(ctx, topts, o.name, g, data, 5, o.lr, nil)
	case o.exportOnly:
		if o.out == "" {
			return errors.New("-export-only needs -out")
		}
		w, err := trainrun.CheckpointWeights(ctx, topts, o.name, g, lengthOnly(o.pictures), o.ema)
		if err != nil {
			return err
		}
		return export(o, w)
	}
	start := time.Now()
	w, err := trainrun.Phase(ctx, topts, o.name, g, data, o.steps, o.lr, o.ema)
	if err != nil {
		return err
	}
	fmt.Printf("training: %s\n", time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	return export(o, w)
}

// initFrom loads the weights of checkpoint o.initFrom into b, conv_out's
// zeroed.
func initFrom(ctx context.Context, topts trainrun.Options, o options, b *onnxexport.Builder) error {
	src, loss := srLoss(o.seed, o.batch, o.crop)
	g, err := onnxexport.NewTrainGraph(src, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return err
	}
	w, err := trainrun.CheckpointWeights(ctx, topts, o.initFrom, g, lengthOnly(o.pictures), false)
	if err != nil {
		return fmt.Errorf("-init-from %s: %w", o.initFrom, err)
	}
	for name, t := range w {
		if strings.HasPrefix(name, "conv_out.") {
			clear(t.Float32)
		}
	}
	fmt.Printf("%s: starts from %s's weights, conv_out zeroed\n", o.name, o.initFrom)
	return b.LoadParams(w)
}

// lengthOnly stands for a dataset of n examples where none is drawn.
type lengthOnly int

func (n lengthOnly) Len() int { return int(n) }

func (lengthOnly) Example(int, *rand.Rand, []onnxexport.ExampleSlot) error {
	return errors.New("lengthOnly: no examples")
}
