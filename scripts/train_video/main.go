// Command train_video grows imagegen's built-in text-to-image model into
// a text-to-video model (builtin:video) on the moving-shapes clips:
// AnimateDiff-style motion modules, whose output projections start at
// zero, are inserted after the layers of the built-in image UNet, and
// only they train while the image UNet, text encoder and VAE stay as they
// are. It then exports an AnimateDiff-style Optimum folder.
//
// Phases, resumable (caches and checkpoints under -state, git-ignored):
//
//  1. clips: the first -clips training clips (-frames frames, 32x32)
//     encoded with the built-in VAE encoder and their captions with the
//     built-in text encoder.
//
//  2. motion: the motion modules trained with v-prediction on DDPM's
//     linear schedule (that of the image model), one timestep per clip,
//     10% empty captions for classifier-free guidance.
//
//  3. export (-out): unet/ (the motion UNet, float16) with the scheduler
//     and model_index.json of an AnimateDiffPipeline; the text encoder,
//     tokenizer and VAE are the built-in model's, copied with -copy-base.
//
//     go run ./scripts/train_video -steps 2000 -out builtin/models/video
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

type options struct {
	state, base, out, name string
	clips, frames, steps   int
	batch                  int64
	lr                     float64
	threads, every         int
	seed                   uint64
	probe                  int
	unfreeze, copyBase     bool
	exportOnly             bool
	sample, model          string
	sampleN, sampleFrames  int
	sampleFirst            int
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_video/state", "folder for caches, checkpoints and loss CSVs")
	flag.StringVar(&o.base, "base", "defaultmodel/model", "the built-in image model's Optimum `folder`")
	flag.StringVar(&o.out, "out", "", "export the video model to this `folder` (replaced)")
	flag.StringVar(&o.name, "name", "motion", "checkpoint `name` (state/NAME.ckpt)")
	flag.IntVar(&o.clips, "clips", 3000, "training clips to encode")
	flag.IntVar(&o.frames, "frames", 8, "frames per training clip")
	flag.IntVar(&o.steps, "steps", 2000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 2, "clips per step")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, cosine)")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads")
	flag.IntVar(&o.every, "checkpoint-every", 50, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "trainer seed")
	flag.IntVar(&o.probe, "probe", 0, "time this many training steps and exit")
	flag.BoolVar(&o.unfreeze, "unfreeze", false, "train the image UNet's layers too (default: only the motion modules)")
	flag.BoolVar(&o.copyBase, "copy-base", false, "with -out, copy the built-in text encoder, tokenizer and VAE into the folder (a standalone checkpoint)")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the weights of state/NAME.ckpt as they are to -out, without training")
	flag.StringVar(&o.sample, "sample", "", "generate clips of the first -n held-out prompts with the model in -model into this `folder` (NNN.npy, prompts.txt) for scripts/check_video, and exit")
	flag.StringVar(&o.model, "model", "", "with -sample, the video model's `folder` (default: -out)")
	flag.IntVar(&o.sampleN, "n", 50, "with -sample, how many held-out prompts")
	flag.IntVar(&o.sampleFirst, "first", 0, "with -sample, the first held-out prompt's number")
	flag.IntVar(&o.sampleFrames, "sample-frames", 0, "with -sample, frames per clip (0: the model's default)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_video:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.frames < 2 || o.frames > maxFrames || o.batch < 1 || o.clips < 1 {
		return fmt.Errorf("-frames %d (2 to %d), -batch %d, -clips %d: out of range", o.frames, maxFrames, o.batch, o.clips)
	}
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	if o.sample != "" {
		model := cmp.Or(o.model, o.out)
		if model == "" {
			return fmt.Errorf("-sample needs -model (or -out)")
		}
		return sampleHeldOut(ctx, o, model, o.sample, o.sampleFirst, o.sampleN, o.sampleFrames)
	}
	cfg, err := readUNetConfig(o.base)
	if err != nil {
		return err
	}
	image, err := readImageUNet(o.base)
	if err != nil {
		return err
	}
	if o.exportOnly {
		if o.out == "" {
			return fmt.Errorf("-export-only needs -out")
		}
		w, err := onnxexport.ReadCheckpointWeights(filepath.Join(o.state, o.name+".ckpt"))
		if err != nil {
			return err
		}
		return export(o, cfg, image, w)
	}
	start := time.Now()
	set, err := phaseClips(ctx, o, o.clips)
	if err != nil {
		return err
	}
	fmt.Printf("clips: %d clips of %d frames ready in %s\n", o.clips, o.frames, time.Since(start).Round(time.Second))
	b, loss, err := motionLoss(cfg, motionConfig(), image, o.batch, int64(o.frames), !o.unfreeze)
	if err != nil {
		return err
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1})
	if err != nil {
		return err
	}
	data := newNoisedClips(set)
	topt := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads, Warmup: min(100, o.steps/10)}
	if o.probe > 0 {
		return trainrun.Probe(ctx, topt, o.name, g, data, o.probe, o.lr, nil)
	}
	w, err := trainrun.Phase(ctx, topt, o.name, g, data, o.steps, o.lr, false)
	if err != nil {
		return err
	}
	if o.out == "" {
		return nil
	}
	return export(o, cfg, image, w)
}
