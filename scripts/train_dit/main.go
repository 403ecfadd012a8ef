// Command train_dit trains builtin:dit, a latent DiT (onnx_export.DiT:
// patchify, adaLN-Zero blocks with cross-attention to builtin:default's
// frozen text encoder) as a rectified flow in builtin:default's VAE latent
// space (SD3's objective: x_σ = (1−σ)·x0 + σ·ε, predict v = ε − x0,
// logit-normal σ, 10% empty captions for classifier-free guidance), then
// reflows it: (noise, sample) pairs drawn by the 1-rectified flow with its
// guidance train a 2-rectified flow from its weights (Liu et al. 2022,
// "Flow Straight and Fast"), whose straighter paths sample in 1–4 steps
// (builtin:dit-1step, builtin:dit-4step).
//
//	go run ./scripts/train_dit -threads 1 -steps 4750 -lr 3e-4 -ema 0.999 -out builtin/models/dit
//	go run ./scripts/train_dit -threads 1 -reflow -pairs 1200 -held-out 150 -teacher-steps 8 -steps 800 -lr 1e-4 -ema 0.995 -out builtin/models/dit-1step
//	go run ./scripts/train_dit -reflow -pairs 1200 -held-out 150 -teacher-steps 8 -measure
//
// Training is resumable: run the same command again (state under -state,
// git-ignored); a larger -steps trains further.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/imagegen/imagegen/internal/latentset"
	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

type options struct {
	model, state, out string
	share             bool
	pictures, steps   int
	batch             int64
	lr, ema, uncond   float64
	tdist             string
	hidden, depth     int64
	heads, patch      int64
	threads, every    int
	seed              uint64
	probe, exportOnly bool
	raw               bool
	// sampling: the 1-RF's (pairs, its export) and the reflow's export
	shift                         float64
	exportSteps                   int
	exportGuidance                float64
	teacherSteps                  int
	teacherGuidance               float64
	reflow, measure               bool
	pairs, heldOut, straightDraws int
	pairSeed                      uint64
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "defaultmodel/model", "builtin:default's checkpoint `folder`: its VAE encodes the training pictures, its text encoder the captions")
	flag.StringVar(&o.state, "state", "scripts/train_dit/state", "folder for the data cache, pairs, checkpoints and loss CSVs")
	flag.StringVar(&o.out, "out", "", "export to this `folder` (replaced)")
	flag.BoolVar(&o.share, "share", false, "copy builtin:default's text encoder, tokenizer and VAE into -out, so the folder runs alone")
	flag.IntVar(&o.pictures, "pictures", 20000, "training pictures (their latents and caption states are cached)")
	flag.IntVar(&o.steps, "steps", 6000, "training steps of this phase in total")
	flag.Int64Var(&o.batch, "batch", 32, "batch size")
	flag.Float64Var(&o.lr, "lr", 5e-4, "peak learning rate (warmup and cosine decay)")
	flag.Float64Var(&o.ema, "ema", 0.995, "decay of the exported weight average")
	flag.Float64Var(&o.uncond, "uncond", 0.1, "share of empty captions (classifier-free guidance); the reflow phase defaults to 0")
	flag.StringVar(&o.tdist, "t", "", "σ distribution: logit-normal (default of the 1-RF) or uniform (default of the reflow)")
	flag.Int64Var(&o.hidden, "hidden", 128, "DiT width")
	flag.Int64Var(&o.depth, "depth", 6, "DiT blocks")
	flag.Int64Var(&o.heads, "heads", 4, "attention heads")
	flag.Int64Var(&o.patch, "patch", 2, "patch size")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads")
	flag.IntVar(&o.every, "checkpoint-every", 100, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the trainer's RNG")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the phase's last checkpoint to -out without training")
	flag.BoolVar(&o.raw, "raw", false, "with -export-only: export the weights, not their average (early in a run the average still holds much of the initialization)")
	flag.Float64Var(&o.shift, "shift", 1, "FlowMatchEulerDiscreteScheduler's shift, for the pairs and the exports")
	flag.IntVar(&o.exportSteps, "export-steps", 0, "steps the export's imagegen_defaults suggest (default: -teacher-steps for the 1-RF, 1 for the reflow)")
	flag.Float64Var(&o.exportGuidance, "export-guidance", 0, "guidance the export's imagegen_defaults suggest (default: -teacher-guidance for the 1-RF, 1 for the reflow)")
	flag.IntVar(&o.teacherSteps, "teacher-steps", 25, "Euler steps of the 1-RF drawing the reflow pairs")
	flag.Float64Var(&o.teacherGuidance, "teacher-guidance", 3, "classifier-free guidance of the 1-RF drawing the reflow pairs")
	flag.BoolVar(&o.reflow, "reflow", false, "train the 2-rectified flow on pairs of the 1-RF (state/dit.ckpt), starting from its weights")
	flag.BoolVar(&o.measure, "measure", false, "measure the straightness of the 1-RF and the 2-RF on the held-out pairs and exit")
	flag.IntVar(&o.pairs, "pairs", 8000, "reflow training pairs")
	flag.IntVar(&o.heldOut, "held-out", 200, "held-out pairs for -measure")
	flag.IntVar(&o.straightDraws, "draws", 8, "σ draws per held-out pair for -measure")
	flag.Uint64Var(&o.pairSeed, "pair-seed", 1, "seed of the pairs' noise")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_dit:", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	if o.tdist == "" {
		o.tdist = "logit-normal"
		if o.reflow {
			o.tdist = "uniform"
		}
	}
	if o.reflow && !flagSet("uncond") {
		o.uncond = 0
	}
	if o.exportSteps == 0 {
		o.exportSteps = o.teacherSteps
		if o.reflow {
			o.exportSteps = 1
		}
	}
	if o.exportGuidance == 0 {
		o.exportGuidance = o.teacherGuidance
		if o.reflow {
			o.exportGuidance = 1
		}
	}
	switch {
	case o.batch < 1 || o.pictures < 1 || o.steps < 1:
		return fmt.Errorf("-batch, -pictures and -steps must be positive")
	case o.uncond < 0 || o.uncond > 1:
		return fmt.Errorf("-uncond %g: want [0, 1]", o.uncond)
	case o.ema < 0 || o.ema >= 1:
		return fmt.Errorf("-ema %g: want [0, 1)", o.ema)
	case !(o.shift > 0):
		return fmt.Errorf("-shift %g: want a positive number", o.shift)
	case o.teacherSteps < 1 || o.exportSteps < 1 || o.teacherGuidance < 1 || o.exportGuidance < 1:
		return fmt.Errorf("steps must be positive and guidance at least 1")
	case o.pairs < 1 || o.heldOut < 1 || o.straightDraws < 1:
		return fmt.Errorf("-pairs, -held-out and -draws must be positive")
	}
	_, err := parseTimeDist(o.tdist)
	return err
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Phase names: the checkpoints state/dit.ckpt and state/reflow.ckpt.
const (
	phase1RF = "dit"
	phase2RF = "reflow"
)

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
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
	start := time.Now()
	set, err := latentset.Load(ctx, o.model, o.state, o.pictures, o.threads)
	if err != nil {
		return err
	}
	fmt.Printf("data: %d latents and caption states in %s\n", set.N, time.Since(start).Round(time.Second))
	side := int64(latentset.ImageSize / 2)
	for side*side*4 > int64(set.Per) {
		side /= 2
	}
	cfg := onnxexport.DiTConfig{InChannels: int64(set.Per) / (side * side), Size: side, Patch: o.patch, Hidden: o.hidden,
		Depth: o.depth, Heads: o.heads, ContextDim: int64(set.Hidden)}
	if err := cfg.Validate(); err != nil {
		return err
	}
	name := phase1RF
	if o.reflow {
		name = phase2RF
	}
	if o.measure {
		return measure(ctx, o, cfg, set)
	}
	if o.exportOnly {
		if o.out == "" {
			return fmt.Errorf("-export-only needs -out")
		}
		read := onnxexport.ReadCheckpointEMA
		if o.raw {
			read = onnxexport.ReadCheckpointWeights
		}
		w, err := read(filepath.Join(o.state, name+".ckpt"))
		if err != nil {
			return err
		}
		return exportPhase(o, cfg, w)
	}
	dist, _ := parseTimeDist(o.tdist)
	data := &flowExamples{set: set, dist: dist, uncond: o.uncond}
	b, loss := onnxexport.NewDiTLoss(cfg, o.seed, o.batch, int64(set.HiddenLen))
	if o.reflow {
		w, err := onnxexport.ReadCheckpointEMA(filepath.Join(o.state, phase1RF+".ckpt"))
		if err != nil {
			return fmt.Errorf("reflow starts from the 1-RF: %w", err)
		}
		all, err := teacherPairs(ctx, o, cfg, set, w)
		if err != nil {
			return err
		}
		data.pairs, _ = all.split(o.pairs)
		if err := b.LoadParams(w); err != nil {
			return err
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: o.ema})
	if err != nil {
		return err
	}
	topt := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads, Warmup: min(200, o.steps/10)}
	if o.probe {
		return trainrun.Probe(ctx, topt, name, g, data, 5, o.lr, nil)
	}
	start = time.Now()
	w, err := trainrun.Phase(ctx, topt, name, g, data, o.steps, o.lr, o.ema > 0)
	if err != nil {
		return err
	}
	fmt.Printf("%s: trained in %s\n", name, time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	return exportPhase(o, cfg, w)
}

func exportPhase(o options, cfg onnxexport.DiTConfig, w map[string]*onnxexport.Tensor) error {
	trainer := "scripts/train_dit"
	e := exportSpec{out: o.out, steps: o.exportSteps, guidance: o.exportGuidance, shift: o.shift, trainer: trainer, share: o.share}
	if err := export(o.model, e, cfg, w); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return nil
}

// teacherPairs returns the 1-RF's pairs (training pairs, then the
// held-out ones), drawn with its guidance by the Euler sampler, cached
// under state.
func teacherPairs(ctx context.Context, o options, cfg onnxexport.DiTConfig, set *latentset.Set, w map[string]*onnxexport.Tensor) (*pairSet, error) {
	path := filepath.Join(o.state, phase1RF+"-f32.onnx")
	if err := writeDenoiser(path, cfg, w, false); err != nil {
		return nil, err
	}
	s, err := openSampler(path, set, o.threads, o.teacherSteps, o.teacherGuidance, o.shift)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	n := o.pairs + o.heldOut
	start := time.Now()
	p, err := makePairs(ctx, s, n, o.pairSeed, filepath.Join(o.state, fmt.Sprintf("pairs-%d-s%d-w%g-seed%d.bin", n, o.teacherSteps, o.teacherGuidance, o.pairSeed)))
	if err != nil {
		return nil, fmt.Errorf("pairs: %w", err)
	}
	fmt.Printf("pairs: %d in %s\n", n, time.Since(start).Round(time.Second))
	return p, nil
}

// measure prints the straightness of the 1-RF (with its guidance) and of
// the 2-RF (with the reflow export's guidance) on the held-out pairs.
func measure(ctx context.Context, o options, cfg onnxexport.DiTConfig, set *latentset.Set) error {
	w1, err := onnxexport.ReadCheckpointEMA(filepath.Join(o.state, phase1RF+".ckpt"))
	if err != nil {
		return err
	}
	all, err := teacherPairs(ctx, o, cfg, set, w1)
	if err != nil {
		return err
	}
	_, held := all.split(o.pairs)
	rows := []struct {
		name     string
		ckpt     string
		guidance float64
	}{{"1-RF", phase1RF, o.teacherGuidance}, {"2-RF", phase2RF, 1}}
	for _, r := range rows {
		w, err := onnxexport.ReadCheckpointEMA(filepath.Join(o.state, r.ckpt+".ckpt"))
		if err != nil {
			return err
		}
		path := filepath.Join(o.state, r.ckpt+"-measure.onnx")
		if err := writeDenoiser(path, cfg, w, false); err != nil {
			return err
		}
		s, err := openSampler(path, set, o.threads, 1, r.guidance, o.shift)
		if err != nil {
			return err
		}
		v, err := straightness(ctx, s.velocity, held, o.straightDraws, 11)
		s.Close()
		if err != nil {
			return err
		}
		fmt.Printf("straightness %s (guidance %g): S = %.5f on %d held-out pairs × %d σ draws\n", r.name, r.guidance, v, held.n, o.straightDraws)
	}
	return nil
}
