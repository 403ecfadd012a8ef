// Command train_vae trains imagegen's built-in conditional VAE
// (builtin:vae) on the procedural shapes dataset and exports it to a
// folder that the pipeline's "vae" family loads: an encoder
// q(z | x, c), a decoder p(x | z, c) with a Gaussian likelihood, and the
// condition c = shapes.Condition(prompt), the one-hot attributes a
// prompt says, instead of a text encoder.
//
// Steps (the training resumable: checkpoint and CSVs under -state, a
// git-ignored folder by default):
//
//  1. train: the negative ELBO per dimension on dequantized training
//     pictures with their captions' conditions (-empty-rate of them
//     empty), KL warm-up over -kl-warmup steps and optional free bits;
//     every checkpoint the collapse monitor (KL per latent dimension,
//     active units, the ELBO) runs on held-out pictures and appends a row
//     to STATE/monitor.csv.
//
//  2. export: the EMA weights, float16 initializers, to -out.
//
//  3. evaluate: the exported model's prior samples for held-out prompts
//     scored by the shapes checker, the time per picture, and the ELBO
//     and IWAE bounds in bits/dim on held-out pictures.
//
//  4. -prior (after the above, on the exported folder): fit a
//     conditional mixture prior p(z | c) to the frozen encoder's
//     posteriors of training pictures, export it to OUT/prior and
//     evaluate the folder with it (the checker at each of -temperatures,
//     the bounds with log p(z | c)).
//
// The shipped architecture needs -position-maps and -latent-maps (the
// defaults are the first network it grew from); README.md lists the
// runs that made the shipped weights:
//
//	go run ./scripts/train_vae -threads 1 -batch 16 -position-maps -latent-maps -free-bits 0.75 -out builtin/models/vae
//
// and the shipped prior:
//
//	go run ./scripts/train_vae -threads 2 -name cvae_lm -prior -temperature 0.8 -out builtin/models/vae
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/shapes"
)

type options struct {
	state, out, name string
	steps, every     int
	batch            int64
	latent           int64
	lr               float64
	pictures         int
	emptyRate        float64
	klWarmup         int
	freeBits         float64
	threads          int
	seed             uint64
	monitorPictures  int
	evalPrompts      int
	evalPictures     int
	iwaeK            int
	samples, recon   string
	evalOnly, probe  bool
	positionMaps     bool
	from             string
	spatial          int64
	latentMaps       bool
	stopAt           int
	// The learned prior (-prior).
	prior                     bool
	priorComponents           int64
	priorHidden, priorBatch   int64
	priorSteps, priorPictures int
	priorLR                   float64
	temperatures              string
	temperature               float64
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_vae/state", "folder for the checkpoint and the CSVs")
	flag.StringVar(&o.name, "name", "cvae", "checkpoint `name` (STATE/NAME.ckpt, NAME_loss.csv, NAME_monitor.csv)")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced) and evaluate it")
	flag.IntVar(&o.steps, "steps", 8000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 32, "batch size")
	flag.Int64Var(&o.latent, "latent", 32, "latent dimensions Z")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, cosine decay)")
	flag.IntVar(&o.pictures, "pictures", 100000, "training pictures (the first of the train split)")
	flag.Float64Var(&o.emptyRate, "empty-rate", 0.05, "share of examples given the empty prompt's condition")
	flag.IntVar(&o.klWarmup, "kl-warmup", 1500, "steps over which the KL's weight rises linearly from 0 to 1")
	flag.Float64Var(&o.freeBits, "free-bits", 0, "free bits λ: nats per latent dimension below which the KL is not pushed (0: the plain ELBO)")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 500, "steps between checkpoints (and monitor rows)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainer's RNG")
	flag.IntVar(&o.monitorPictures, "monitor-pictures", 256, "held-out pictures the collapse monitor encodes")
	flag.IntVar(&o.evalPrompts, "eval-prompts", 500, "held-out prompts the checker scores (one prior sample each)")
	flag.IntVar(&o.evalPictures, "eval-pictures", 200, "held-out pictures of the bits/dim figures")
	flag.IntVar(&o.iwaeK, "iwae-k", 64, "importance samples of the IWAE bound")
	flag.StringVar(&o.samples, "samples", "", "write the prior samples of the first 48 held-out prompts to this PNG `file`")
	flag.StringVar(&o.recon, "reconstructions", "", "write 24 held-out pictures and their reconstructions (posterior mean) to this PNG `file`")
	flag.BoolVar(&o.evalOnly, "eval-only", false, "skip training and export; evaluate the model in -out")
	flag.BoolVar(&o.positionMaps, "position-maps", false, "add learned position maps to the decoder's features after each upsampling")
	flag.StringVar(&o.from, "from", "", "start a new run (-name) from the weights of STATE/`NAME`.ckpt that the network has by name and shape (the rest keep their initialization; new position maps start at zero, so the network starts as the function it came from)")
	flag.Int64Var(&o.spatial, "spatial", 0, "when > 0, a spatial latent of this many channels at 4x4 instead of -latent values")
	flag.BoolVar(&o.latentMaps, "latent-maps", false, "give the latent vector linear maps to the decoder's 8x8 and 16x16 inputs and a shift in every conv layer, as the condition has")
	flag.IntVar(&o.stopAt, "stop-at", 0, "stop after the checkpoint at this step (the learning rate still follows -steps); how the shipped model's earlier runs ended")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.prior, "prior", false, "fit a conditional mixture prior p(z | c) to the posteriors of the model exported in -out (its encoder frozen), export it to OUT/prior and evaluate the folder with it")
	flag.Int64Var(&o.priorComponents, "prior-components", 64, "mixture components K of the learned prior")
	flag.Int64Var(&o.priorHidden, "prior-hidden", 256, "width of the learned prior's two hidden layers")
	flag.Int64Var(&o.priorBatch, "prior-batch", 256, "batch size of the learned prior's training")
	flag.IntVar(&o.priorSteps, "prior-steps", 12000, "training steps of the learned prior")
	flag.IntVar(&o.priorPictures, "prior-pictures", 100000, "training pictures whose posteriors the learned prior is fitted to (encoded once, cached under -state)")
	flag.Float64Var(&o.priorLR, "prior-lr", 1e-3, "peak learning rate of the learned prior")
	flag.StringVar(&o.temperatures, "temperatures", "1,0.8,0.6,0.5", "comma-separated temperatures τ at which the learned prior's samples are scored")
	flag.Float64Var(&o.temperature, "temperature", 0, "the learned prior's default temperature written to prior/config.json (0: the one of -temperatures whose samples pass the checker most often)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_vae:", err)
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
	if o.evalOnly {
		if o.out == "" {
			return fmt.Errorf("-eval-only needs -out")
		}
		return evaluate(ctx, o)
	}
	if o.prior {
		return runPrior(ctx, o)
	}
	cfg := defaultConfig(o.latent)
	cfg.PositionMaps = o.positionMaps
	cfg.SpatialChannels = o.spatial
	cfg.LatentMaps = o.latentMaps
	if o.probe {
		return probe(ctx, o, cfg)
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
	if err := export(o.out, cfg, w); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return evaluate(ctx, o)
}

// train runs the resumable training phase and returns the EMA weights.
func train(ctx context.Context, o options, cfg config) (map[string]*onnxexport.Tensor, error) {
	b, loss := trainLoss(cfg, lossOptions{FreeBits: o.freeBits}, o.seed, o.batch)
	if _, err := os.Stat(filepath.Join(o.state, o.name+".ckpt")); o.from != "" && os.IsNotExist(err) {
		if err := startFrom(b, filepath.Join(o.state, o.from+".ckpt")); err != nil {
			return nil, err
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.998})
	if err != nil {
		return nil, err
	}
	var step int
	data, err := newPictures(o.pictures, o.emptyRate, o.klWarmup, &step)
	if err != nil {
		return nil, err
	}
	held, err := newHeldOutSet(o.monitorPictures)
	if err != nil {
		return nil, err
	}
	mon := filepath.Join(o.state, o.name+"_monitor.csv")
	monitorPrompts := shapes.HeldOutPrompts(100)
	opts := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads,
		AfterStep: func(_ *onnxexport.Trainer, s onnxexport.StepInfo) error { step = s.Step; return nil },
		OnResume: func(tr *onnxexport.Trainer) error {
			step = tr.StepCount()
			return keepMonitorRows(mon, step)
		},
		AfterCheckpoint: func(tr *onnxexport.Trainer) error {
			m, err := openWeights(cfg, tr.Weights(false), o.threads)
			if err != nil {
				return err
			}
			defer m.close()
			st, err := monitorPosterior(ctx, m, held)
			if err != nil {
				return err
			}
			fmt.Printf("%s: monitor at step %d: KL %.2f nats, %d of %d units active, ELBO %.4f bits/dim (reconstruction %.4f), log σ %.3f %.3f %.3f\n",
				o.name, tr.StepCount(), st.KL, st.Active, cfg.latentSize(), st.ELBO, st.Recon, m.logStd[0], m.logStd[1], m.logStd[2])
			// The checker on a few prior samples (the raw weights, not
			// the EMA that is exported) shows early whether a run is
			// heading for the targets.
			rep, _, _, err := checkPrior(ctx, m, standardNormal{zd: cfg.latentSize(), temperature: 1}, monitorPrompts)
			if err != nil {
				return err
			}
			fmt.Printf("%s: prior samples at step %d: %v\n", o.name, tr.StepCount(), rep)
			if err := appendMonitorRow(mon, tr.StepCount(), klWeight(tr.StepCount(), o.klWarmup), st); err != nil {
				return err
			}
			if o.stopAt > 0 && tr.StepCount() >= o.stopAt {
				return errStopped
			}
			return nil
		},
	}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return nil, err
	}
	return trainrun.Phase(ctx, opts, o.name, g, data, o.steps, o.lr, true)
}

// errStopped ends training at -stop-at.
var errStopped = errors.New("stopped at -stop-at")

// startFrom loads into b the weights of the checkpoint at path that b's
// parameters match by name and shape.
func startFrom(b *onnxexport.Builder, path string) error {
	prev, err := onnxexport.ReadCheckpointWeights(path)
	if err != nil {
		return err
	}
	init := map[string]*onnxexport.Tensor{}
	taken, zeroed := 0, 0
	for _, p := range b.Params() {
		init[p.Name] = p.Tensor
		if v, ok := prev[p.Name]; ok && slices.Equal(v.Shape, p.Tensor.Shape) {
			init[p.Name] = v
			taken++
			continue
		}
		// New paths from the latent start at zero, so that the network
		// starts as the function it came from.
		if strings.Contains(p.Name, "latent") {
			init[p.Name] = onnxexport.NewFloat32(p.Tensor.Shape, make([]float32, p.Tensor.NumElements()))
			zeroed++
		}
	}
	fmt.Printf("starting from %s: %d of %d tensors (%d new ones zeroed)\n", path, taken, len(init), zeroed)
	return b.LoadParams(init)
}

// appendMonitorRow appends one row to the monitor CSV, writing its header
// first when the file is new.
func appendMonitorRow(path string, step int, beta float32, st posteriorStats) error {
	var sb strings.Builder
	if _, err := os.Stat(path); os.IsNotExist(err) {
		sb.WriteString("step,kl_weight,elbo_bpd,recon_bpd,kl_nats,active_units")
		for d := range st.KLPerDim {
			fmt.Fprintf(&sb, ",kl_%d", d)
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "%d,%.4f,%.5f,%.5f,%.4f,%d", step, beta, st.ELBO, st.Recon, st.KL, st.Active)
	for _, v := range st.KLPerDim {
		fmt.Fprintf(&sb, ",%.4f", v)
	}
	sb.WriteString("\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(sb.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// keepMonitorRows drops the monitor rows after step (written after the
// checkpoint a run resumes from).
func keepMonitorRows(path string, step int) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []string
	for i, l := range strings.SplitAfter(string(raw), "\n") {
		var s int
		if _, err := fmt.Sscanf(l, "%d,", &s); i > 0 && (err != nil || s > step) {
			continue
		}
		keep = append(keep, l)
	}
	return os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644)
}

// evaluate scores the model exported to o.out: the checker on prior
// samples of held-out prompts (from the learned prior at each of
// -temperatures when the folder has one), the time per picture, and
// bits/dim.
func evaluate(ctx context.Context, o options) error {
	m, err := openExported(o.out, o.threads)
	if err != nil {
		return err
	}
	defer m.close()
	var prior latentPrior = standardNormal{zd: m.latent, temperature: 1}
	mix, ok, err := openPrior(o.out, o.threads)
	if err != nil {
		return err
	}
	if ok {
		defer mix.close()
		prior = mix
	}
	prompts := shapes.HeldOutPrompts(o.evalPrompts)
	var imgs []*image.NRGBA
	if ok {
		if imgs, err = checkTemperatures(ctx, o, m, mix, prompts); err != nil {
			return err
		}
		prior = mix.withTemperature(1)
	} else {
		rep, im, per, err := checkPrior(ctx, m, prior, prompts)
		if err != nil {
			return err
		}
		imgs = im
		fmt.Printf("prior samples of %d held-out prompts (seeds 0-%d): %v\n", len(prompts), len(prompts)-1, rep)
		fmt.Printf("time per picture: %s (%d ONNX Runtime threads, batch 1)\n", per.Round(10*time.Microsecond), o.threads)
	}
	if o.samples != "" {
		if err := writeGrid(o.samples, imgs[:min(48, len(imgs))], 8); err != nil {
			return err
		}
	}
	set, err := newHeldOutSet(o.evalPictures)
	if err != nil {
		return err
	}
	if o.recon != "" {
		if err := writeReconstructions(ctx, o.recon, m, set, min(24, set.n)); err != nil {
			return err
		}
	}
	st, err := monitorPosterior(ctx, m, set)
	if err != nil {
		return err
	}
	fmt.Printf("posterior on %d held-out pictures: KL %.2f nats, %d of %d units active (Cov_x E_q[z_d] > %g)\n", set.n, st.KL, st.Active, m.latent, activeThreshold)
	kl := make([]string, len(st.KLPerDim))
	for d, v := range st.KLPerDim {
		kl[d] = fmt.Sprintf("%.2f", v)
	}
	fmt.Printf("KL per dimension (nats): %s\n", strings.Join(kl, " "))
	start := time.Now()
	lb, err := boundLikelihood(ctx, m, prior, set, o.iwaeK)
	if err != nil {
		return err
	}
	fmt.Printf("%v (%s)\n", lb, time.Since(start).Round(time.Second))
	return nil
}

// probe times a few training steps.
func probe(ctx context.Context, o options, cfg config) error {
	b, loss := trainLoss(cfg, lossOptions{FreeBits: o.freeBits}, o.seed, o.batch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.998})
	if err != nil {
		return err
	}
	step := 1000
	data, err := newPictures(o.pictures, o.emptyRate, o.klWarmup, &step)
	if err != nil {
		return err
	}
	return trainrun.Probe(ctx, trainrun.Options{Threads: o.threads}, "cvae", g, data, 8, o.lr,
		func(_ *onnxexport.Trainer, info onnxexport.StepInfo) (string, error) {
			return fmt.Sprintf(" (%.3f bits/dim)", bitsPerDim(info.Loss*pixels)), nil
		})
}
