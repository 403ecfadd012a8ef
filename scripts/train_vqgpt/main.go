// Command train_vqgpt trains imagegen's VQ-token transformer (the vqgpt
// family's model) on the procedural shapes pictures and exports it: a
// decoder-only transformer that reads a caption's text tokens (the shapes
// BPE vocabulary of builtin:default) and then predicts the picture's
// 16x16 VQ-VAE codes (builtin:vqvae) one at a time, trained with
// next-token cross-entropy and prompt dropout for classifier-free
// guidance.
//
// The training pictures are tokenized once with the VQ-VAE's encoder and
// cached under -state (git-ignored). Training is one resumable phase
// (package trainrun). The export is the transformer with a key/value
// cache in onnxruntime-genai's names, checked against the training
// graph's forward pass, beside the VQ-VAE decoder and the tokenizer.
//
//	go run ./scripts/train_vqgpt -threads 1 -out builtin/models/vqgpt
package main

import (
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
	"github.com/imagegen/imagegen/tokenizer"
)

type options struct {
	state, name, out string
	vqvae, tokenizer string
	layers           int
	width, heads     int64
	steps, every     int
	batch            int64
	lr, dropout      float64
	pictures         int
	threads          int
	seed             uint64
	probe            bool
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_vqgpt/state", "folder for the token cache, the checkpoint and the loss CSV")
	flag.StringVar(&o.name, "name", "vqgpt", "checkpoint `name` (state/NAME.ckpt)")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.StringVar(&o.vqvae, "vqvae", "builtin/models/vqvae", "the VQ-VAE `folder` whose encoder tokenizes the pictures and whose decoder is exported beside the transformer")
	flag.StringVar(&o.tokenizer, "tokenizer", "defaultmodel/model/tokenizer", "the shapes BPE tokenizer `folder`")
	flag.IntVar(&o.layers, "layers", 4, "transformer blocks")
	flag.Int64Var(&o.width, "width", 128, "hidden width")
	flag.Int64Var(&o.heads, "heads", 4, "attention heads")
	flag.IntVar(&o.steps, "steps", 1800, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 16, "batch size")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, then cosine)")
	flag.Float64Var(&o.dropout, "prompt-dropout", 0.1, "share of captions replaced by \"\" (the unconditional stream)")
	flag.IntVar(&o.pictures, "pictures", 30000, "training pictures")
	flag.IntVar(&o.threads, "threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 100, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights, the shuffling and the prompt dropout")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_vqgpt:", err)
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
	a := arch{layers: o.layers, width: o.width, heads: o.heads}
	b, loss, err := gptLoss(a, o.seed, o.batch)
	if err != nil {
		return err
	}
	fmt.Printf("vqgpt: %d layers, width %d, %d heads; %d parameters\n", a.layers, a.width, a.heads, b.NumParams())
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1})
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(o.tokenizer)
	if err != nil {
		return err
	}
	t0 := time.Now()
	data, err := loadCorpus(ctx, o.state, filepath.Join(o.vqvae, "vq_encoder", "model.onnx"), tok, o.pictures, o.threads, o.dropout)
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d pictures (%s)\n", data.Len(), time.Since(t0).Round(time.Millisecond))
	if o.probe {
		return trainrun.Probe(ctx, trainrun.Options{Threads: o.threads}, "vqgpt", g, data, 6, o.lr, nil)
	}
	start := time.Now()
	w, err := trainrun.Phase(ctx, trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads},
		o.name, g, data, o.steps, o.lr, false)
	if err != nil {
		return err
	}
	fmt.Printf("training: %s\n", time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	return exportAndCheck(ctx, o, a, w, tok)
}
