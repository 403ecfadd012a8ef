// Command train_lcm distills the built-in latent diffusion model
// (builtin:default, package defaultmodel) into a latent consistency model
// (Luo et al. 2023): a student UNet, started from the teacher's weights
// with a zero-initialized time_cond_proj that reads the guidance-scale
// embedding, learns to map any point of the teacher's guided probability
// flow to its end in one evaluation, so that LCMScheduler samples in 1–8
// steps. The export is the builtin:lcm checkpoint folder (UNet and
// LCMScheduler config; the text encoder, tokenizer and VAE are the
// teacher's and, with -share, are copied in so the folder runs alone).
//
//	go run ./scripts/train_lcm -threads 1 -steps 3000 -out builtin/models/lcm
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
	"strings"
	"time"

	"github.com/imagegen/imagegen/internal/latentset"
	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

type options struct {
	teacher, state, out string
	share               bool
	exportSteps         int
	pictures, steps     int
	batch               int64
	lr, targetEMA       float64
	huberC              float64
	wMin, wMax          float64
	condDim             int64
	origSteps           int
	threads, every      int
	seed                uint64
	probe, exportOnly   bool
	name                string
}

func main() {
	var o options
	flag.StringVar(&o.teacher, "teacher", "defaultmodel/model", "the teacher's checkpoint `folder` (Optimum layout, a v-prediction UNet on DDPM's linear schedule)")
	flag.StringVar(&o.state, "state", "scripts/train_lcm/state", "folder for the data cache, checkpoints and loss CSVs")
	flag.StringVar(&o.out, "out", "", "export the student to this `folder` (replaced)")
	flag.BoolVar(&o.share, "share", false, "copy the teacher's text encoder, tokenizer and VAE into -out, so the folder runs alone")
	flag.IntVar(&o.exportSteps, "export-steps", 4, "the steps the export's imagegen_defaults suggest")
	flag.StringVar(&o.name, "name", "lcm", "checkpoint `name` (state/NAME.ckpt)")
	flag.IntVar(&o.pictures, "pictures", 20000, "training pictures (their latents and caption states are cached)")
	flag.IntVar(&o.steps, "steps", 3000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 16, "batch size")
	flag.Float64Var(&o.lr, "lr", 2e-4, "peak learning rate (warmup and cosine decay)")
	flag.Float64Var(&o.targetEMA, "target-ema", 0.95, "decay of the weight average that is the target network θ⁻ (and the export)")
	flag.Float64Var(&o.huberC, "huber-c", 1e-3, "pseudo-Huber constant of the loss (0: mean squared error)")
	flag.Float64Var(&o.wMin, "w-min", 3, "smallest guidance scale the teacher is distilled at")
	flag.Float64Var(&o.wMax, "w-max", 3, "largest guidance scale the teacher is distilled at")
	flag.Int64Var(&o.condDim, "cond-dim", 64, "width of the guidance embedding (time_cond_proj_dim)")
	flag.IntVar(&o.origSteps, "original-steps", 50, "steps of the teacher's DDIM grid the student skips along (original_inference_steps)")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads")
	flag.IntVar(&o.every, "checkpoint-every", 100, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the trainer's RNG")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.exportOnly, "export-only", false, "export the last checkpoint's weight average (or weights, with -target-ema 0) to -out without training: a snapshot of a run in progress")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_lcm:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.wMin < 1 || o.wMax < o.wMin:
		return fmt.Errorf("-w-min %g -w-max %g: want 1 ≤ w-min ≤ w-max", o.wMin, o.wMax)
	case o.origSteps < 1 || numTrainTimesteps%o.origSteps != 0:
		return fmt.Errorf("-original-steps %d: want a divisor of %d", o.origSteps, numTrainTimesteps)
	case o.condDim < 4 || o.condDim%2 != 0:
		return fmt.Errorf("-cond-dim %d: want an even number of 4 or more", o.condDim)
	case o.targetEMA < 0 || o.targetEMA >= 1:
		return fmt.Errorf("-target-ema %g: want [0, 1)", o.targetEMA)
	case o.exportSteps < 1 || o.exportSteps > o.origSteps:
		return fmt.Errorf("-export-steps %d: want 1..%d", o.exportSteps, o.origSteps)
	case o.batch < 1 || o.pictures < 1 || o.huberC < 0:
		return fmt.Errorf("-batch, -pictures must be positive and -huber-c not negative")
	}
	return nil
}

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
	teacherCfg, teacherW, err := teacherUNet(o.teacher)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	studentCfg := teacherCfg
	studentCfg.TimeCondProjDim = o.condDim
	if o.exportOnly {
		return exportCheckpoint(o, studentCfg)
	}
	start := time.Now()
	set, err := latentset.Load(ctx, o.teacher, o.state, o.pictures, o.threads)
	if err != nil {
		return err
	}
	fmt.Printf("data: %d latents and caption states in %s\n", set.N, time.Since(start).Round(time.Second))

	b, loss, frozen := distillLoss(teacherCfg, studentCfg, int64(set.HiddenLen), int64(set.Hidden), o.batch, o.huberC)
	init, err := studentInit(b, teacherW)
	if err != nil {
		return err
	}
	if err := b.LoadParams(init); err != nil {
		return err
	}
	emaDecay := o.targetEMA
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: emaDecay}, frozen...)
	if err != nil {
		return err
	}
	data := &distillExamples{set: set, ac: ddpmAlphasCumprod(), origSteps: o.origSteps, wMin: o.wMin, wMax: o.wMax}
	hosts := hostWeights{teacher: map[string]*onnxexport.Tensor{}, ema: emaDecay > 0}
	for _, p := range b.Params() {
		if hasScope(p.Name, teacherScope) {
			hosts.teacher[p.Name] = init[p.Name]
		}
	}
	topt := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads, Warmup: min(100, o.steps/10),
		OnStart: hosts.start, AfterStep: hosts.afterStep}
	if o.probe {
		started := false
		return trainrun.Probe(ctx, topt, o.name, g, data, 5, o.lr, func(tr *onnxexport.Trainer, _ onnxexport.StepInfo) (string, error) {
			if !started { // the first step ran on zero hosts; the rest do not
				started = true
				return " (zero teacher)", hosts.start(tr)
			}
			return "", hosts.afterStep(tr, onnxexport.StepInfo{})
		})
	}
	start = time.Now()
	w, err := trainrun.Phase(ctx, topt, o.name, g, data, o.steps, o.lr, emaDecay > 0)
	if err != nil {
		return err
	}
	fmt.Printf("%s: trained in %s\n", o.name, time.Since(start).Round(time.Second))
	if o.out == "" {
		return nil
	}
	if err := export(o, studentCfg, w); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return nil
}

// exportCheckpoint exports the student of state/NAME.ckpt.
func exportCheckpoint(o options, cfg onnxexport.UNetConfig) error {
	if o.out == "" {
		return fmt.Errorf("-export-only needs -out")
	}
	path := filepath.Join(o.state, o.name+".ckpt")
	read := onnxexport.ReadCheckpointEMA
	if o.targetEMA == 0 {
		read = onnxexport.ReadCheckpointWeights
	}
	w, err := read(path)
	if err != nil {
		return err
	}
	student := map[string]*onnxexport.Tensor{}
	for k, t := range w {
		if !hasScope(k, teacherScope) && !hasScope(k, targetScope) {
			student[k] = t
		}
	}
	if err := export(o, cfg, student); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", path, "to", o.out)
	return nil
}

// studentInit returns the initial weights of every parameter of the
// distillation graph: the teacher's for the teacher, the target network
// and the student alike, except the new cond_proj, which starts at zero
// so that the student starts as the teacher. A teacher without one of
// the other parameters is an error: a network half random would train
// without complaint and draw noise.
func studentInit(b *onnxexport.Builder, teacher map[string]*onnxexport.Tensor) (map[string]*onnxexport.Tensor, error) {
	init := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		name := p.Name
		for _, s := range []string{teacherScope, targetScope} {
			if hasScope(name, s) {
				name = name[len(s)+1:]
			}
		}
		switch t, ok := teacher[name]; {
		case ok:
			init[p.Name] = t
		case strings.HasPrefix(name, condProjPrefix):
			init[p.Name] = p.Tensor // zeros
		default:
			return nil, fmt.Errorf("the teacher has no parameter %s", name)
		}
	}
	return init, nil
}

// condProjPrefix names the parameters the student adds to its teacher.
const condProjPrefix = "time_embedding.cond_proj."

// hostWeights feeds the frozen networks of the distillation graph: the
// teacher once, the target network θ⁻ after every step (the student's
// weight average, or its weights themselves without one).
type hostWeights struct {
	teacher map[string]*onnxexport.Tensor // by host input name (teacher.*)
	ema     bool
}

func (h hostWeights) start(tr *onnxexport.Trainer) error {
	for k, t := range h.teacher {
		if err := tr.SetHost(k, ort.Tensor{F32: t.Float32}); err != nil {
			return err
		}
	}
	return h.afterStep(tr, onnxexport.StepInfo{})
}

func (h hostWeights) afterStep(tr *onnxexport.Trainer, _ onnxexport.StepInfo) error {
	for k, t := range tr.Weights(h.ema) {
		if err := tr.SetHost(targetScope+"."+k, ort.Tensor{F32: t.Float32}); err != nil {
			return err
		}
	}
	return nil
}
