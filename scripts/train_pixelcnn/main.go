// Command train_pixelcnn trains imagegen's built-in conditional gated
// PixelCNN (builtin:pixelcnn) on the procedural shapes dataset and
// exports it to a folder that the pipeline's "pixelcnn" family loads.
//
// The model is autoregressive over the 3,072 subpixels of a 32x32
// picture (rows top to bottom, pixels left to right, R → G → B within a
// pixel), each a 256-way softmax, conditioned on c =
// shapes.Condition(prompt) by a per-layer bias and a spatial map. Its
// likelihood is exact: −log₂ P(picture | c) / 3072 is the bits/dim.
//
//	go run ./scripts/train_pixelcnn -threads 1 -out builtin/models/pixelcnn
//
// The training is resumable: checkpoint and loss CSV under -state (a
// git-ignored folder by default). README.md lists the runs that made the
// shipped weights.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

type options struct {
	state, out, name string
	steps, every     int
	batch            int64
	lr, temperature  float64
	guidance         float64
	pictures         int
	emptyRate        float64
	edgeWeight       float64
	threads          int
	seed             uint64
	probe            bool
	exportOnly, raw  bool
	cfg              config
}

func main() {
	o := options{cfg: defaultConfig()}
	flag.StringVar(&o.state, "state", "scripts/train_pixelcnn/state", "folder for the checkpoint and the CSVs")
	flag.StringVar(&o.name, "name", "pixelcnn", "checkpoint `name` (STATE/NAME.ckpt, NAME_loss.csv)")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.IntVar(&o.steps, "steps", 2200, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 8, "batch size")
	flag.Float64Var(&o.lr, "lr", 2e-3, "peak learning rate (warmup, cosine decay)")
	flag.IntVar(&o.pictures, "pictures", 100000, "training pictures (the first of the train split)")
	flag.Float64Var(&o.emptyRate, "empty-rate", 0.05, "share of examples given the empty prompt's condition")
	flag.Float64Var(&o.edgeWeight, "edge-weight", 0, "when > 0, weight the loss of subpixels whose pixel differs from its left or upper neighbour by 1 + this (0: plain maximum likelihood)")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 250, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainer's RNG")
	flag.Float64Var(&o.temperature, "temperature", 1, "the default sampling temperature written to the exported config.json")
	flag.Float64Var(&o.guidance, "guidance", 1, "the default classifier-free guidance scale written to the exported config.json (1: none)")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.raw, "raw-weights", false, "with -export-only: export the raw weights instead of their EMA")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the EMA weights of the last checkpoint to -out without training (a copy of the checkpoint is read, so a run may go on beside it)")
	flag.Int64Var(&o.cfg.Channels, "channels", o.cfg.Channels, "channels C of both stacks")
	flag.IntVar(&o.cfg.Layers, "layers", o.cfg.Layers, "gated layers")
	flag.Int64Var(&o.cfg.Head, "head", o.cfg.Head, "hidden width of each color channel's output MLP")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_pixelcnn:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	b, loss := trainLoss(o.cfg, o.seed, o.batch, o.edgeWeight)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.998})
	if err != nil {
		return err
	}
	data, err := newPictures(o.pictures, o.emptyRate, o.edgeWeight)
	if err != nil {
		return err
	}
	topts := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}
	if o.probe {
		return trainrun.Probe(ctx, topts, o.name, g, data, 5, o.lr, nil)
	}
	if o.exportOnly {
		if o.out == "" {
			return errors.New("-export-only needs -out")
		}
		w, err := trainrun.CheckpointWeights(ctx, topts, o.name, g, data, !o.raw)
		if err != nil {
			return err
		}
		return export(o.out, o.cfg, o.temperature, o.guidance, w)
	}
	start := time.Now()
	w, err := trainrun.Phase(ctx, topts, o.name, g, data, o.steps, o.lr, true)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Printf("training: %s\n", time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	if err := export(o.out, o.cfg, o.temperature, o.guidance, w); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return nil
}
