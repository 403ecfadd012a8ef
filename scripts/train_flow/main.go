// Command train_flow trains imagegen's built-in conditional normalizing
// flow (builtin:flow) on the procedural shapes dataset and exports it to
// a folder that the pipeline's "flow" family loads: the forward flow
// (flow_encoder: picture → standard-normal latent and log-determinant)
// and its inverse (flow_decoder: latent → picture), both conditioned on
// c = shapes.Condition(prompt).
//
// Steps (resumable: checkpoint and loss CSV under -state, git-ignored):
//
//  1. data-dependent initialization of every actnorm on one batch (a
//     new run only);
//
//  2. train: the exact negative log-likelihood per dimension of
//     dequantized training pictures given their captions' conditions;
//
//  3. export (-out): the EMA weights, float16 initializers, with each
//     invertible convolution's inverse computed on the host (float32).
//
//     go run ./scripts/train_flow -threads 1 -batch 32 -prior-hidden 256 -out builtin/models/flow
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

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
	lr               float64
	pictures         int
	emptyRate        float64
	threads          int
	seed             uint64
	probe            bool
	levelSteps       string
	hidden           string
	condMaps         int64
	initBatch        int64
	stopAt           int
	float32Weights   bool
	temperature      float64
	raw              bool
	check            int
	priorHidden      int64
	from             string
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_flow/state", "folder for the checkpoint and the loss CSV")
	flag.StringVar(&o.name, "name", "cflow", "checkpoint `name` (STATE/NAME.ckpt, NAME_loss.csv)")
	flag.StringVar(&o.out, "out", "", "export the trained model to this `folder` (replaced)")
	flag.IntVar(&o.steps, "steps", 20000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 32, "batch size")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate (warmup, cosine decay)")
	flag.IntVar(&o.pictures, "pictures", 100000, "training pictures (the first of the train split)")
	flag.Float64Var(&o.emptyRate, "empty-rate", 0.05, "share of examples given the empty prompt's condition")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 250, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainer's RNG")
	flag.StringVar(&o.levelSteps, "level-steps", "4,4,4", "flow steps of each level, comma-separated (the level count)")
	flag.StringVar(&o.hidden, "hidden", "64,96,128", "channels of each level's coupling networks")
	flag.Int64Var(&o.condMaps, "cond-maps", 8, "maps the condition makes at each level for the couplings and priors")
	flag.Int64Var(&o.initBatch, "init-batch", 256, "pictures of the actnorms' data-dependent initialization")
	flag.IntVar(&o.stopAt, "stop-at", 0, "stop after the checkpoint at this step (the learning rate still follows -steps)")
	flag.BoolVar(&o.float32Weights, "float32", false, "export float32 initializers instead of float16")
	flag.Float64Var(&o.temperature, "temperature", 0.7, "default sampling temperature written to flow_decoder/config.json")
	flag.BoolVar(&o.raw, "raw", false, "export the raw weights instead of their EMA (a snapshot early in a run, when the EMA still holds much of the initialization)")
	flag.IntVar(&o.check, "check", 0, "measure the folder in -out on this many held-out pictures (the round trip's error, time per picture) and exit")
	flag.Int64Var(&o.priorHidden, "prior-hidden", 0, "width of a hidden layer added to every prior (0: linear priors)")
	flag.StringVar(&o.from, "from", "", "start a new run (-name) from the weights of STATE/`NAME`.ckpt that the network has by name and shape (new layers keep their initialization, which leaves the function unchanged)")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_flow:", err)
		os.Exit(1)
	}
}

// parseInts reads a comma-separated list of positive integers.
func parseInts(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func (o options) config() (config, error) {
	steps, err := parseInts(o.levelSteps)
	if err != nil {
		return config{}, fmt.Errorf("-level-steps %w", err)
	}
	hidden, err := parseInts(o.hidden)
	if err != nil {
		return config{}, fmt.Errorf("-hidden %w", err)
	}
	cfg := config{Channels: 3, Size: imageSize, Hidden: hidden, CondMaps: o.condMaps, Condition: shapes.ConditionSize, PriorHidden: o.priorHidden}
	for _, s := range steps {
		cfg.Steps = append(cfg.Steps, int(s))
	}
	return cfg, cfg.validate()
}

func run(ctx context.Context, o options) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	lib, err := ortlib.Ensure(ctx, ortlib.Options{})
	if err != nil {
		return err
	}
	if err := ort.Init(lib); err != nil {
		return err
	}
	if o.check > 0 {
		if o.out == "" {
			return fmt.Errorf("-check needs -out")
		}
		return checkRoundTrip(ctx, o.out, o.check, o.threads)
	}
	data, err := newPictures(shapes.Train, o.pictures, o.emptyRate)
	if err != nil {
		return err
	}
	b, loss := trainLoss(cfg, o.seed, o.batch)
	if _, err := os.Stat(filepath.Join(o.state, o.name+".ckpt")); os.IsNotExist(err) || o.probe {
		if o.from != "" {
			err = startFrom(b, filepath.Join(o.state, o.from+".ckpt"))
		} else {
			err = initActnorm(ctx, cfg, b, data, o.initBatch, o.seed, o.threads)
		}
		if err != nil {
			return fmt.Errorf("initialization: %w", err)
		}
	}
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 50, EMADecay: 0.999})
	if err != nil {
		return err
	}
	bpd := func(_ *onnxexport.Trainer, info onnxexport.StepInfo) (string, error) {
		return fmt.Sprintf(" (%.3f bits/dim)", bitsPerDim(info.Loss)), nil
	}
	if o.probe {
		fmt.Printf("parameters: %d\n", b.NumParams())
		return trainrun.Probe(ctx, trainrun.Options{Threads: o.threads}, "cflow", g, data, 8, o.lr, bpd)
	}
	start := time.Now()
	opts := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads,
		AfterCheckpoint: func(tr *onnxexport.Trainer) error {
			if o.stopAt > 0 && tr.StepCount() >= o.stopAt {
				return errStopped
			}
			return nil
		}}
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return err
	}
	w, err := trainrun.Phase(ctx, opts, o.name, g, data, o.steps, o.lr, !o.raw)
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
	if err := export(o.out, cfg, w, !o.float32Weights, o.temperature); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Println("exported", o.out)
	return checkRoundTrip(ctx, o.out, 50, o.threads)
}

// errStopped ends training at -stop-at.
var errStopped = errors.New("stopped at -stop-at")

// bitsPerDim turns a negative log-likelihood per dimension in nats of
// dequantized pictures in [-1, 1] into bits/dim on the 256-level scale.
func bitsPerDim(nllNats float64) float64 { return nllNats/ln2 + 7 }

const ln2 = 0.6931471805599453

// initActnorm runs the initialization graph on the first batch examples
// of data and loads every actnorm's bias and log-scale into b.
func initActnorm(ctx context.Context, cfg config, b *onnxexport.Builder, data onnxexport.Dataset, batch int64, seed uint64, threads int) error {
	ib, names := initGraph(cfg, batch)
	mp, err := ib.Build()
	if err != nil {
		return err
	}
	raw, err := proto.Marshal(mp)
	if err != nil {
		return err
	}
	s, err := ort.OpenBytes(ib.Name(), raw, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return err
	}
	defer s.Close()
	n := int(batch)
	px, cs := int(cfg.dims()), int(cfg.Condition)
	x, c := make([]float32, n*px), make([]float32, n*cs)
	rng := newRand(seed)
	for i := range n {
		slots := []onnxexport.ExampleSlot{{F32: x[i*px : (i+1)*px]}, {F32: c[i*cs : (i+1)*cs]}}
		if err := data.Example(i, rng, slots); err != nil {
			return err
		}
	}
	out := map[string]*ort.Tensor{}
	for _, name := range names {
		out[initPrefix+name] = &ort.Tensor{}
	}
	in := map[string]ort.Tensor{
		"image":     {Shape: []int64{batch, cfg.Channels, cfg.Size, cfg.Size}, F32: x},
		"condition": {Shape: []int64{batch, cfg.Condition}, F32: c},
	}
	if err := s.Run(ctx, in, out); err != nil {
		return err
	}
	params := map[string]*onnxexport.Tensor{}
	for _, p := range b.Params() {
		params[p.Name] = p.Tensor
	}
	for _, name := range names {
		t, ok := params[name]
		v := out[initPrefix+name].F32
		if !ok || len(v) != int(t.NumElements()) {
			return fmt.Errorf("statistic %s matches no parameter", name)
		}
		params[name] = onnxexport.NewFloat32(slices.Clone(t.Shape), v)
	}
	fmt.Printf("actnorm: %d statistics from %d pictures\n", len(names), n)
	return b.LoadParams(params)
}

// startFrom loads into b the weights of the checkpoint at path that b's
// parameters match by name and shape.
func startFrom(b *onnxexport.Builder, path string) error {
	prev, err := onnxexport.ReadCheckpointWeights(path)
	if err != nil {
		return err
	}
	init := map[string]*onnxexport.Tensor{}
	taken := 0
	for _, p := range b.Params() {
		init[p.Name] = p.Tensor
		if v, ok := prev[p.Name]; ok && slices.Equal(v.Shape, p.Tensor.Shape) {
			init[p.Name] = v
			taken++
		}
	}
	fmt.Printf("starting from %s: %d of %d tensors\n", path, taken, len(init))
	return b.LoadParams(init)
}
