// Command train_vqvae trains imagegen's VQ-VAE on the procedural shapes
// pictures and exports it as the vqvae family's folder: a convolutional
// encoder whose outputs are snapped to the nearest of K codes, and a
// decoder that draws the picture back from the code indices, so that a
// picture becomes a small grid of tokens an autoregressive model can
// predict.
//
// One resumable phase (package trainrun; checkpoints, the codebook and
// the loss CSV under -state, a git-ignored folder by default): the
// encoder and decoder train by gradient through the straight-through
// estimator with a commitment loss, while the codebook follows the
// encoder outputs by exponential moving averages computed here, between
// steps, with dead codes restarted from recent encoder outputs (see
// codebook). Then the model is measured on held-out pictures (PSNR, code
// usage, the shapes checker on reconstructions and on the originals) and
// exported with float16 initializers, whose round trips are measured
// again from the written folder.
//
//	go run ./scripts/train_vqvae -threads 1 -out builtin/models/vqvae
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
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
	state, name, out string
	grid, codes, dim int64
	steps, every     int
	batch            int64
	lr, beta         float64
	decay, eps       float64
	deadAfter        int
	outline          float64
	pictures         int
	threads          int
	seed             uint64
	check            int
	probe            bool
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_vqvae/state", "folder for the checkpoint, the codebook and the loss CSV")
	flag.StringVar(&o.name, "name", "vqvae", "checkpoint `name` (state/NAME.ckpt, state/NAME.codebook)")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.Int64Var(&o.grid, "grid", 16, "latent grid side: 16 (factor 2) or 8 (factor 4)")
	flag.Int64Var(&o.codes, "codes", 1024, "codebook size K")
	flag.Int64Var(&o.dim, "dim", 32, "code dimension D (even)")
	flag.IntVar(&o.steps, "steps", 2600, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 16, "batch size")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, then cosine)")
	flag.Float64Var(&o.beta, "beta", 0.25, "weight of the commitment loss")
	flag.Float64Var(&o.decay, "decay", 0.99, "EMA decay of the codebook")
	flag.Float64Var(&o.eps, "eps", 1e-5, "Laplace smoothing of the codebook's cluster sizes")
	flag.IntVar(&o.deadAfter, "dead-after", 100, "restart a code no encoder output chose for this many steps")
	flag.Float64Var(&o.outline, "outline", 30, "weigh the L1 by 1 plus this on the pixels next to a color change (0: plain L1)")
	flag.IntVar(&o.pictures, "pictures", 50000, "training pictures")
	flag.IntVar(&o.threads, "threads", 0, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 200, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights, the shuffling and the restarts")
	flag.IntVar(&o.check, "check", 500, "held-out pictures to measure the model on")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_vqvae:", err)
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
	a := arch{grid: o.grid, codes: o.codes, dim: o.dim}
	b, loss, codebookIn, err := vqLoss(a, o.seed, o.batch, o.beta)
	if err != nil {
		return err
	}
	fmt.Printf("vqvae: %dx%d tokens of %d codes, dim %d; %d trained parameters\n", a.grid, a.grid, a.codes, a.dim, b.NumParams())
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1}, codebookIn)
	if err != nil {
		return err
	}
	data := pictures{n: o.pictures, outline: float32(o.outline)}
	if o.probe {
		return probe(ctx, o, g, data)
	}
	start := time.Now()
	cb, w, err := train(ctx, o, g, data)
	if err != nil {
		return err
	}
	fmt.Printf("training: %s\n", time.Since(start).Round(time.Second))
	w[codebookParam] = onnxexport.NewFloat32([]int64{a.codes, a.dim}, cb.Codes)
	f32 := filepath.Join(o.state, o.name+"-float32")
	if _, err := export(f32, a, w, false); err != nil {
		return err
	}
	m, err := checkFolder(ctx, f32, o.check, int(a.grid), int(a.codes), o.threads, filepath.Join(o.state, o.name+"-pairs.png"))
	if err != nil {
		return err
	}
	fmt.Println("float32:", m)
	if o.out == "" {
		return nil
	}
	params, err := export(o.out, a, w, true)
	if err != nil {
		return err
	}
	if m, err = checkFolder(ctx, o.out, o.check, int(a.grid), int(a.codes), o.threads, ""); err != nil {
		return err
	}
	fmt.Printf("exported %s (parameters: encoder %d, decoder %d)\nfloat16: %v\n", o.out, params[0], params[1], m)
	return nil
}

// train runs the training phase with the codebook kept in step by the
// trainer's hooks, and returns the codebook and the trained weights.
func train(ctx context.Context, o options, g *onnxexport.TrainGraph, data pictures) (*codebook, map[string]*onnxexport.Tensor, error) {
	cb := newCodebook(int(o.codes), int(o.dim), o.decay, o.eps, o.deadAfter)
	path := filepath.Join(o.state, o.name+".codebook")
	var window struct {
		steps, restarts, used int
		perplexity            float64
	}
	afterStep := func(tr *onnxexport.Trainer, s onnxexport.StepInfo) error {
		z, err := tr.Aux(auxZ)
		if err != nil {
			return err
		}
		idx, err := tr.Aux(auxIndices)
		if err != nil {
			return err
		}
		st, err := cb.update(s.Step, z.F32, idx.I64, restartRNG(o.seed, s.Step))
		if err != nil {
			return err
		}
		window.steps++
		window.restarts += st.Restarted
		window.used += st.Used
		window.perplexity += st.Perplexity
		return tr.SetHost(codebookInput, ort.Tensor{F32: cb.Codes})
	}
	afterCheckpoint := func(tr *onnxexport.Trainer) error {
		if err := cb.save(path); err != nil {
			return err
		}
		n := float64(max(window.steps, 1))
		fmt.Printf("%s: step %d codebook: batch perplexity %.1f, %.0f codes used a batch, %d restarts (of %d codes)\n",
			o.name, tr.StepCount(), window.perplexity/n, float64(window.used)/n, window.restarts, cb.K)
		window.steps, window.restarts, window.used, window.perplexity = 0, 0, 0, 0
		return nil
	}
	onResume := func(tr *onnxexport.Trainer) error {
		saved, err := loadCodebook(path)
		if err != nil {
			return err
		}
		if saved.Step != tr.StepCount() || saved.K != cb.K || saved.D != cb.D {
			return fmt.Errorf("%s holds %d codes of dim %d at step %d; the checkpoint is at step %d and wants %d of dim %d",
				path, saved.K, saved.D, saved.Step, tr.StepCount(), cb.K, cb.D)
		}
		// The update settings come from the command line.
		saved.Decay, saved.Eps, saved.DeadAfter = cb.Decay, cb.Eps, cb.DeadAfter
		cb = saved
		return tr.SetHost(codebookInput, ort.Tensor{F32: cb.Codes})
	}
	w, err := trainrun.Phase(ctx, trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads,
		AfterStep: afterStep, AfterCheckpoint: afterCheckpoint, OnResume: onResume}, o.name, g, data, o.steps, o.lr, false)
	if err != nil {
		return nil, nil, err
	}
	return cb, w, nil
}

// probe times a few training steps.
func probe(ctx context.Context, o options, g *onnxexport.TrainGraph, data pictures) error {
	cb := newCodebook(int(o.codes), int(o.dim), o.decay, o.eps, o.deadAfter)
	rng := rand.New(rand.NewPCG(o.seed, 0))
	return trainrun.Probe(ctx, trainrun.Options{Threads: o.threads}, "vqvae", g, data, 6, o.lr,
		func(tr *onnxexport.Trainer, info onnxexport.StepInfo) (string, error) {
			z, _ := tr.Aux(auxZ)
			idx, _ := tr.Aux(auxIndices)
			st, err := cb.update(info.Step, z.F32, idx.I64, rng)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf(" perplexity %.1f", st.Perplexity), tr.SetHost(codebookInput, ort.Tensor{F32: cb.Codes})
		})
}
