// Command train_ddpm trains imagegen's built-in pixel-space DDPM
// (builtin:ddpm) and its noise-conditional attribute classifier on the
// procedural shapes dataset, and exports both to a folder that the
// pipeline's diffusion loop runs without a VAE.
//
// Phases, each resumable (checkpoints and loss CSVs under -state, a
// git-ignored folder by default):
//
//  1. text: builtin:default's frozen text encoder reads the captions of
//     the training pictures once (its hidden states stay in memory).
//
//  2. denoiser: a UNet on 32x32x3 pictures (a 2x2 space-to-depth stem
//     around builtin:default's UNet body, whose weights it starts from),
//     ε-prediction on DDPM's linear 1000-step schedule, 10% empty
//     captions for classifier-free guidance.
//
//  3. classifier: a small CNN that names the shape class, color and grid
//     cell of the picture's first and second shape from a noised picture
//     x_t and t (ADM's noise-conditional classifier).
//
//  4. export: text_encoder and tokenizer (builtin:default's), unet,
//     classifier (the gradient graph ∇_x Σ log p(y | x_t)), scheduler.
//
//     go run ./scripts/train_ddpm -threads 1 -out builtin/models/ddpm
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/shapes"
)

type options struct {
	state, out, base, name string
	steps, every           int
	batch                  int64
	lr                     float64
	pictures               int
	fromScratch            bool
	share                  bool
	clsName                string
	clsSteps               int
	clsBatch               int64
	clsLR                  float64
	threads                int
	seed                   uint64
	probe, exportOnly      bool
	check                  string
	only                   string
	// The generation defaults written to model_index.json.
	defScheduler string
	defSteps     int
	defGuidance  float64
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_ddpm/state", "folder for checkpoints and loss CSVs")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.BoolVar(&o.share, "share", false, "copy builtin:default's text encoder and tokenizer into -out, so the folder runs alone (the shipped builtin:ddpm reads them from builtin:default)")
	flag.StringVar(&o.base, "base", "defaultmodel/model", "builtin:default's folder: its text encoder and tokenizer are reused, its UNet starts the body")
	flag.StringVar(&o.name, "name", "ddpm", "checkpoint `name` of the denoiser (STATE/NAME.ckpt)")
	flag.IntVar(&o.steps, "steps", 6000, "denoiser training steps in total")
	flag.Int64Var(&o.batch, "batch", 16, "denoiser batch size")
	flag.Float64Var(&o.lr, "lr", 5e-4, "denoiser peak learning rate (warmup, cosine decay)")
	flag.IntVar(&o.pictures, "pictures", 50000, "training pictures (the first of the train split)")
	flag.BoolVar(&o.fromScratch, "from-scratch", false, "start the UNet body from random weights instead of builtin:default's")
	flag.StringVar(&o.clsName, "classifier-name", "classifier", "checkpoint `name` of the classifier")
	flag.IntVar(&o.clsSteps, "classifier-steps", 3000, "classifier training steps in total")
	flag.Int64Var(&o.clsBatch, "classifier-batch", 32, "classifier batch size")
	flag.Float64Var(&o.clsLR, "classifier-lr", 1e-3, "classifier peak learning rate")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 200, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainers' RNGs")
	flag.BoolVar(&o.probe, "probe", false, "time a few steps of each network and exit")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the denoiser's weights and the classifier's EMA weights of their last checkpoints to -out without training (copies of the checkpoints are read, so runs may go on beside it)")
	flag.StringVar(&o.check, "check-classifier", "", "print the exported model in `DIR`'s ε error on 100 and its classifier's accuracy per head on 500 noised held-out pictures, and exit")
	flag.StringVar(&o.only, "only", "", "train one phase only: denoiser or classifier")
	flag.StringVar(&o.defScheduler, "default-scheduler", "DDIMScheduler", "the scheduler written to model_index.json's imagegen_defaults")
	flag.IntVar(&o.defSteps, "default-steps", 8, "the steps written to imagegen_defaults (8 scored best: fewer, larger DDIM steps leave less of the UNet's low-t error)")
	flag.Float64Var(&o.defGuidance, "default-guidance", 3, "the classifier-free guidance scale written to imagegen_defaults")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_ddpm:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	switch o.only {
	case "", "denoiser", "classifier":
	default:
		return fmt.Errorf("-only %q: want denoiser or classifier", o.only)
	}
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return err
	}
	if o.probe {
		return probe(ctx, o)
	}
	if o.exportOnly {
		return exportCheckpoints(ctx, o)
	}
	if o.check != "" {
		if err := checkDenoiser(ctx, o.check, 100, o.threads); err != nil {
			return err
		}
		return checkClassifier(ctx, o.check, 500, o.threads)
	}
	var den, cls map[string]*onnxexport.Tensor
	if o.only == "" || o.only == "denoiser" {
		start := time.Now()
		if den, err = phaseDenoiser(ctx, o); err != nil {
			return fmt.Errorf("denoiser: %w", err)
		}
		fmt.Printf("denoiser phase: %s\n", time.Since(start).Round(time.Second))
	}
	if o.only == "" || o.only == "classifier" {
		start := time.Now()
		if cls, err = phaseClassifier(ctx, o); err != nil {
			return fmt.Errorf("classifier: %w", err)
		}
		fmt.Printf("classifier phase: %s\n", time.Since(start).Round(time.Second))
	}
	if o.out == "" {
		return nil
	}
	if den == nil || cls == nil {
		return fmt.Errorf("-out needs both phases: run without -only (with -steps and -classifier-steps at or below the checkpoints' to export them as they are)")
	}
	return export(o, den, cls)
}

// exportCheckpoints exports the weights of the denoiser's last checkpoint
// (see phaseDenoiser) and the EMA weights of the classifier's.
func exportCheckpoints(ctx context.Context, o options) error {
	if o.out == "" {
		return errors.New("-export-only needs -out")
	}
	b, loss := denoiserLoss(unetConfig(), o.seed, o.batch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return err
	}
	den, err := trainrun.CheckpointWeights(ctx, trainOptions(o), o.name, g, lengthOnly(o.pictures), false)
	if err != nil {
		return fmt.Errorf("denoiser: %w", err)
	}
	b, loss = classifierLoss(o.seed, o.clsBatch)
	if g, err = onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.995}); err != nil {
		return err
	}
	cls, err := trainrun.CheckpointWeights(ctx, trainOptions(o), o.clsName, g, lengthOnly(o.pictures), true)
	if err != nil {
		return fmt.Errorf("classifier: %w", err)
	}
	return export(o, den, cls)
}

// lengthOnly stands for a dataset of n examples where none is drawn.
type lengthOnly int

func (n lengthOnly) Len() int { return int(n) }

func (lengthOnly) Example(int, *rand.Rand, []onnxexport.ExampleSlot) error {
	return errors.New("lengthOnly: no examples")
}

func trainOptions(o options) trainrun.Options {
	return trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}
}

// phaseDenoiser trains the UNet under the checkpoint name o.name; a
// fresh run starts its body from builtin:default's UNet (every tensor of
// the same name and shape: all but conv_in and conv_out) unless
// -from-scratch.
func phaseDenoiser(ctx context.Context, o options) (map[string]*onnxexport.Tensor, error) {
	start := time.Now()
	hidden, empty, err := captionHidden(ctx, o.base, o.pictures, o.threads)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%s: hidden states of %d captions in %s\n", o.name, o.pictures, time.Since(start).Round(time.Second))
	cfg := unetConfig()
	b, loss := denoiserLoss(cfg, o.seed, o.batch)
	if _, err := os.Stat(o.state + "/" + o.name + ".ckpt"); os.IsNotExist(err) && !o.fromScratch {
		base, err := baseUNetWeights(o.base)
		if err != nil {
			return nil, err
		}
		init := map[string]*onnxexport.Tensor{}
		for _, p := range b.Params() {
			init[p.Name] = p.Tensor
		}
		n := overlay(init, base)
		fmt.Printf("%s: %d of %d tensors from builtin:default's UNet\n", o.name, n, len(init))
		if err := b.LoadParams(init); err != nil {
			return nil, err
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return nil, err
	}
	data := &noisedPictures{pics: shapes.Dataset{Split: shapes.Train, Size: imageSize}, hidden: hidden, emptyHidden: empty, ac: alphasCumprod()}
	// The weights themselves, not their average: the average starts at
	// the initial weights (random conv_in and conv_out) and 0.999^1000 =
	// 37% of them is still in it after 1,000 steps (the export of the
	// average at step 1,000 had an ε error of 0.53–1.03 on held-out
	// pictures against the weights' 0.05–0.1); the cosine schedule
	// anneals the weights instead.
	return trainrun.Phase(ctx, trainOptions(o), o.name, g, data, o.steps, o.lr, false)
}
