// Command train_gan trains imagegen's built-in conditional GAN
// (builtin:gan) on the procedural shapes dataset and exports its
// generator to a folder that the pipeline's "gan" family loads: noise z
// and the condition c = shapes.Condition(prompt) to a 32x32 picture.
//
// Two training graphs share the weights: the discriminator's step (the
// non-saturating logistic loss and the R1 penalty, whose gradient of a
// gradient the autodiff builds; the generator frozen, its weights host
// inputs) and the generator's step (the discriminator frozen). The loop
// alternates them, copying each network's new weights into the other
// graph's host inputs, and keeps an EMA of the generator's weights in the
// generator's graph. Checkpoints, the loss CSV and the monitor CSV go to
// -state (git-ignored), and a run resumes from them:
//
//	go run ./scripts/train_gan -threads 1 -out builtin/models/gan
//
// README.md lists the runs that made the shipped weights and their
// figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/shapes"
)

type options struct {
	state, out, name string
	steps, every     int
	batch            int64
	lrD, lrG         float64
	r1, aux          float64
	ema              float64
	pictures         int
	emptyRate        float64
	threads          int
	seed             uint64
	evalPrompts      int
	truncation       float64
	samples          string
	collapseGrid     string
	evalOnly         bool
	raw              bool
	stopAt           int
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_gan/state", "folder for the checkpoints and the CSVs")
	flag.StringVar(&o.name, "name", "gan", "run `name` (STATE/NAME_d.ckpt, NAME_g.ckpt, NAME_loss.csv, NAME_monitor.csv)")
	flag.StringVar(&o.out, "out", "", "export the generator (EMA weights) to this `folder` (replaced) and evaluate it")
	flag.IntVar(&o.steps, "steps", 5000, "training steps in total (one discriminator and one generator update each)")
	flag.Int64Var(&o.batch, "batch", 16, "batch size")
	flag.Float64Var(&o.lrD, "lr-d", 3e-4, "discriminator learning rate (warmup, cosine decay to a quarter)")
	flag.Float64Var(&o.lrG, "lr-g", 3e-4, "generator learning rate (warmup, cosine decay to a quarter)")
	flag.Float64Var(&o.r1, "r1", 1, "γ of the R1 penalty γ/2·E‖∇_x D(x, c)‖² on real pictures (0: none)")
	flag.Float64Var(&o.aux, "aux", 1, "weight of the auxiliary classifier's cross-entropy in the generator's loss (0: no classifier; the discriminator learns it on real pictures)")
	flag.Float64Var(&o.ema, "ema", 0.998, "decay of the generator's weight average (the exported weights)")
	flag.IntVar(&o.pictures, "pictures", 100000, "training pictures (the first of the train split)")
	flag.Float64Var(&o.emptyRate, "empty-rate", 0.05, "share of examples given the empty prompt's condition")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 250, "steps between checkpoints (and monitor rows)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainers' RNGs")
	flag.IntVar(&o.evalPrompts, "eval-prompts", 500, "held-out prompts the checker scores (one sample each)")
	flag.Float64Var(&o.truncation, "truncation", 1, "ψ in (0, 1] of the truncation trick (z scaled by ψ) in the evaluation, and the exported folder's default")
	flag.StringVar(&o.samples, "samples", "", "write the samples of the first 48 held-out prompts to this PNG `file`")
	flag.StringVar(&o.collapseGrid, "collapse-grid", "", "write the mode-collapse monitor's 20 samples of \""+collapsePrompt+"\" to this PNG `file`")
	flag.BoolVar(&o.raw, "raw", false, "export the generator's current weights instead of their EMA")
	flag.BoolVar(&o.evalOnly, "eval-only", false, "skip training and export; evaluate the model in -out")
	flag.IntVar(&o.stopAt, "stop-at", 0, "stop after the checkpoint at this step (the learning rate still follows -steps)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_gan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.truncation <= 0 || o.truncation > 1 {
		return fmt.Errorf("-truncation %v: want ψ in (0, 1]", o.truncation)
	}
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	cfg := defaultConfig()
	cfg.R1 = o.r1
	cfg.Aux = o.aux
	if o.evalOnly {
		if o.out == "" {
			return fmt.Errorf("-eval-only needs -out")
		}
		return evaluate(ctx, o)
	}
	start := time.Now()
	w, err := train(ctx, o, cfg)
	if errors.Is(err, errStopped) {
		fmt.Printf("stopped at step %d (-stop-at)\n", o.stopAt)
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Printf("training: %s\n", time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	if err := export(o.out, cfg, w, o.truncation); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return evaluate(ctx, o)
}

// errStopped ends training at -stop-at.
var errStopped = errors.New("stopped at -stop-at")

// pair is the two trainers of the alternating updates.
type pair struct {
	d, g         *onnxexport.Trainer
	dHost, gHost []onnxexport.ValueInfo // each graph's frozen weights of the other network
}

func (p pair) close() {
	p.d.Close()
	p.g.Close()
}

// newPair builds both training graphs and their trainers.
func newPair(o options, cfg config) (pair, error) {
	adam := onnxexport.AdamWConfig{Beta1: 0.5, Beta2: 0.99, NoWeightDecay: true}
	db, dLoss, gFrozen := discLoss(cfg, o.seed, o.batch)
	dg, err := onnxexport.NewTrainGraph(db, dLoss, adam, gFrozen...)
	if err != nil {
		return pair{}, fmt.Errorf("discriminator step: %w", err)
	}
	gb, gLoss, dFrozen := genLoss(cfg, o.seed, o.batch)
	gAdam := adam
	gAdam.EMADecay = o.ema
	gg, err := onnxexport.NewTrainGraph(gb, gLoss, gAdam, dFrozen...)
	if err != nil {
		return pair{}, fmt.Errorf("generator step: %w", err)
	}
	dData, err := newExamples(o.pictures, o.emptyRate, cfg.Latent, true, cfg.Aux > 0)
	if err != nil {
		return pair{}, err
	}
	gData, err := newExamples(o.pictures, o.emptyRate, cfg.Latent, false, false)
	if err != nil {
		return pair{}, err
	}
	sched := func(lr float64) onnxexport.LRSchedule {
		return onnxexport.LRSchedule{Peak: lr, Min: lr / 4, Warmup: min(200, o.steps/10), Total: o.steps}
	}
	d, err := onnxexport.NewTrainer(dg, dData, onnxexport.TrainerOptions{Schedule: sched(o.lrD), Seed: o.seed, Threads: o.threads})
	if err != nil {
		return pair{}, err
	}
	g, err := onnxexport.NewTrainer(gg, gData, onnxexport.TrainerOptions{Schedule: sched(o.lrG), Seed: o.seed + 1, Threads: o.threads})
	if err != nil {
		d.Close()
		return pair{}, err
	}
	return pair{d: d, g: g, dHost: dg.Host, gHost: gg.Host}, nil
}

// shareWeights copies the weights w (of the other network) into the
// host inputs of t that have their names.
func shareWeights(t *onnxexport.Trainer, host []onnxexport.ValueInfo, w map[string]*onnxexport.Tensor) error {
	for _, h := range host {
		v, ok := w[h.Name]
		if !ok {
			return fmt.Errorf("host input %s: no such weight", h.Name)
		}
		if err := t.SetHost(h.Name, ort.Tensor{F32: v.Float32}); err != nil {
			return err
		}
	}
	return nil
}

// step runs one discriminator update, then one generator update, each
// graph reading the other network's current weights.
func (p pair) step(ctx context.Context) (d, g onnxexport.StepInfo, err error) {
	if err := shareWeights(p.d, p.dHost, p.g.Weights(false)); err != nil {
		return d, g, err
	}
	if d, err = p.d.Step(ctx); err != nil {
		return d, g, err
	}
	if err := shareWeights(p.g, p.gHost, p.d.Weights(false)); err != nil {
		return d, g, err
	}
	g, err = p.g.Step(ctx)
	return d, g, err
}

// train runs the resumable alternating training and returns the
// generator's EMA weights.
func train(ctx context.Context, o options, cfg config) (map[string]*onnxexport.Tensor, error) {
	p, err := newPair(o, cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return nil, err
	}
	dCkpt := filepath.Join(o.state, o.name+"_d.ckpt")
	gCkpt := filepath.Join(o.state, o.name+"_g.ckpt")
	lossCSV := filepath.Join(o.state, o.name+"_loss.csv")
	monCSV := filepath.Join(o.state, o.name+"_monitor.csv")
	if err := p.d.Load(dCkpt); err == nil {
		if err := p.g.Load(gCkpt); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		fmt.Printf("%s: resumed at step %d\n", o.name, p.g.StepCount())
		for _, f := range []string{lossCSV, monCSV} {
			if err := keepRows(f, p.g.StepCount()); err != nil {
				return nil, err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	prompts := shapes.HeldOutPrompts(100)
	var rows []string
	t0 := time.Now()
	for p.g.StepCount() < o.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		di, gi, err := p.step(ctx)
		if err != nil {
			return nil, err
		}
		aux := func(name string) float32 {
			v, err := p.d.Aux(name)
			if err != nil || len(v.F32) == 0 {
				return float32(0)
			}
			return v.F32[0]
		}
		rows = append(rows, fmt.Sprintf("%d,%.5f,%.5f,%.4f,%.4f,%.5f,%.4f,%.4f,%.4f\n", gi.Step, di.Loss, gi.Loss,
			aux("d_real"), aux("d_fake"), aux("r1"), aux("aux"), di.GradNorm, gi.GradNorm))
		if gi.Step%25 == 0 {
			fmt.Printf("%s: step %d  D %.4f  G %.4f  D(real) %.3f  D(fake) %.3f  R1 %.4f  aux CE %.3f  (%.2f s/step)\n", o.name, gi.Step,
				di.Loss, gi.Loss, aux("d_real"), aux("d_fake"), aux("r1"), aux("aux"), time.Since(t0).Seconds()/25)
			t0 = time.Now()
		}
		if gi.Step%o.every != 0 && gi.Step != o.steps {
			continue
		}
		if err := p.d.Save(dCkpt); err != nil {
			return nil, err
		}
		if err := p.g.Save(gCkpt); err != nil {
			return nil, err
		}
		if err := appendRows(lossCSV, "step,d_loss,g_loss,d_real,d_fake,r1,aux_ce,d_grad_norm,g_grad_norm\n", rows); err != nil {
			return nil, err
		}
		rows = rows[:0]
		if err := monitor(ctx, o, cfg, p.g, prompts, monCSV); err != nil {
			return nil, err
		}
		if o.stopAt > 0 && gi.Step >= o.stopAt {
			return nil, errStopped
		}
	}
	return p.g.Weights(!o.raw), nil
}

// monitor scores the generator's EMA weights at a checkpoint: the checker
// on one sample of each held-out prompt, and mode collapse, the distinct
// grid cells and sizes over 20 seeds of a position-free prompt; it prints
// them and appends a row to the monitor CSV.
func monitor(ctx context.Context, o options, cfg config, g *onnxexport.Trainer, prompts []string, path string) error {
	m, err := openWeights(cfg, g.Weights(true), o.threads)
	if err != nil {
		return err
	}
	defer m.close()
	rep, _, _, err := checkSamples(ctx, m, prompts, 1)
	if err != nil {
		return err
	}
	div, err := diversity(ctx, m, collapsePrompt, 20, 1, nil)
	if err != nil {
		return err
	}
	fmt.Printf("%s: monitor at step %d (EMA): %v\n%s: %v\n", o.name, g.StepCount(), rep, o.name, div)
	row := fmt.Sprintf("%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%d,%d\n", g.StepCount(), rep.Color.Rate(), rep.Shape.Rate(), rep.Size.Rate(),
		rep.Position.Rate(), rep.Passed.Rate(), div.Cells, div.Sizes, div.Found)
	return appendRows(path, "step,color,shape,size,position,all,collapse_cells,collapse_sizes,collapse_found\n", []string{row})
}
