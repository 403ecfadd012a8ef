// Command train_featurenet trains the frozen feature network of package
// featurenet: a small convolutional classifier of 32x32 shapes pictures
// (package shapes) with one cross-entropy head per scene attribute
// (shapes.AttributeClasses), whose globally averaged last convolution is
// the feature vector that Fréchet distances between picture sets are
// measured on, as FID measures them on Inception's pool features.
//
// The training phase is resumable (package trainrun; checkpoint and loss
// CSV under -state). After it, the script reports the heads' accuracy on
// held-out pictures and writes the features-only network (float16
// weights) to -out, which package featurenet embeds:
//
//	go run ./scripts/train_featurenet -out featurenet/featurenet.onnx
//
// With -figures it trains nothing and prints the Fréchet distances that
// calibrate the embedded network's scale (real against real held-out
// pictures, and trivial generators against real ones).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
	"github.com/imagegen/imagegen/shapes"
)

type options struct {
	state, out string
	steps      int
	batch      int64
	lr         float64
	pictures   int
	evalN      int
	threads    int
	every      int
	seed       uint64
	ema        bool
	probe      bool
	figures    bool
}

func main() {
	var o options
	flag.StringVar(&o.state, "state", "scripts/train_featurenet/state", "folder for the checkpoint and loss CSV")
	flag.StringVar(&o.out, "out", "", "write the features-only network to this ONNX `file`")
	flag.IntVar(&o.steps, "steps", 5000, "training steps in total")
	flag.Int64Var(&o.batch, "batch", 64, "batch size")
	flag.Float64Var(&o.lr, "lr", 2e-3, "peak learning rate")
	flag.IntVar(&o.pictures, "pictures", 100000, "training pictures (drawn on the fly)")
	flag.IntVar(&o.evalN, "eval", 2000, "held-out pictures the heads' accuracy is measured on")
	flag.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads (0: its default)")
	flag.IntVar(&o.every, "checkpoint-every", 200, "steps between checkpoints")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the initial weights and the trainer's RNG")
	flag.BoolVar(&o.ema, "ema", true, "export the weights' exponential moving average (decay 0.999) rather than the weights")
	flag.BoolVar(&o.probe, "probe", false, "time a few training steps and exit")
	flag.BoolVar(&o.figures, "figures", false, "train nothing; print the embedded network's Fréchet distance figures")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "train_featurenet:", err)
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
	if o.figures {
		return printFigures(ctx, o)
	}
	b, loss := trainLoss(o.seed, o.batch)
	fmt.Printf("featurenet: %d parameters\n", b.NumParams())
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.999})
	if err != nil {
		return err
	}
	data := pictures{data: shapes.Dataset{Split: shapes.Train, Size: imageSize}, n: o.pictures}
	if o.probe {
		return trainrun.Probe(ctx, trainrun.Options{Seed: o.seed, Threads: o.threads}, "featurenet", g, data, 6, o.lr, nil)
	}
	start := time.Now()
	w, err := trainrun.Phase(ctx, trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}, "featurenet", g, data, o.steps, o.lr, o.ema)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Printf("train phase: %s\n", time.Since(start).Round(time.Second))
	acc, err := accuracy(ctx, o, w)
	if err != nil {
		return fmt.Errorf("accuracy: %w", err)
	}
	fmt.Print(acc)
	if o.out == "" {
		return nil
	}
	fb, err := inferenceGraph(w, false)
	if err != nil {
		return err
	}
	fb.SetMetadata("imagegen.component", "featurenet")
	fb.SetMetadata("imagegen.trained_by", "scripts/train_featurenet")
	fb.SetDoc(fmt.Sprintf("Feature network of package featurenet: %d steps of batch %d, seed %d.", o.steps, o.batch, o.seed))
	m, err := fb.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return err
	}
	if err := onnxexport.Save(o.out, m); err != nil {
		return err
	}
	st, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	fmt.Printf("exported %s (%d bytes)\n", o.out, st.Size())
	return nil
}

// probe times a few training steps.

// accuracy classifies o.evalN held-out pictures with the network as it is
// exported (float16 weights) and reports each head's accuracy.
func accuracy(ctx context.Context, o options, w map[string]*onnxexport.Tensor) (string, error) {
	b, err := inferenceGraph(w, true)
	if err != nil {
		return "", err
	}
	m, err := b.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return "", err
	}
	raw, err := proto.Marshal(m)
	if err != nil {
		return "", err
	}
	sess, err := ort.OpenBytes("featurenet_heads", raw, ort.Options{IntraOpThreads: o.threads})
	if err != nil {
		return "", err
	}
	defer sess.Close()
	names := []string{"background", "shape 1 color", "shape 1 kind", "shape 1 size", "shape 1 cell",
		"shape 2 color", "shape 2 kind", "shape 2 size", "shape 2 cell", "relation"}
	correct := make([]int, len(shapes.AttributeClasses))
	allRight := 0
	data := pictures{data: shapes.Dataset{Split: shapes.HeldOut, Size: imageSize}, n: o.evalN}
	const batch = 100
	per := 3 * imageSize * imageSize
	in := make([]float32, batch*per)
	slots := make([]onnxexport.ExampleSlot, 1+len(shapes.AttributeClasses))
	labels := make([][]int64, batch)
	for i0 := 0; i0 < o.evalN; i0 += batch {
		n := min(batch, o.evalN-i0)
		for k := range n {
			slots[0].F32 = in[k*per : (k+1)*per]
			labels[k] = make([]int64, len(shapes.AttributeClasses))
			for a := range shapes.AttributeClasses {
				slots[1+a].I64 = labels[k][a : a+1]
			}
			if err := data.Example(i0+k, rand.New(rand.NewPCG(0, 0)), slots); err != nil {
				return "", err
			}
		}
		out := map[string]*ort.Tensor{}
		for a := range shapes.AttributeClasses {
			out[fmt.Sprintf("logits_%d", a)] = &ort.Tensor{}
		}
		if err := sess.Run(ctx, map[string]ort.Tensor{"sample": {Shape: []int64{int64(n), 3, imageSize, imageSize}, F32: in[:n*per]}}, out); err != nil {
			return "", err
		}
		for k := range n {
			right := true
			for a, c := range shapes.AttributeClasses {
				logits := out[fmt.Sprintf("logits_%d", a)].F32[k*c : (k+1)*c]
				best := 0
				for j := range logits {
					if logits[j] > logits[best] {
						best = j
					}
				}
				if int64(best) == labels[k][a] {
					correct[a]++
				} else {
					right = false
				}
			}
			if right {
				allRight++
			}
		}
	}
	s := fmt.Sprintf("held-out accuracy (%d pictures):\n", o.evalN)
	for a, name := range names {
		s += fmt.Sprintf("  %-14s %5.1f%%\n", name, 100*float64(correct[a])/float64(o.evalN))
	}
	s += fmt.Sprintf("  %-14s %5.1f%%\n", "all ten", 100*float64(allRight)/float64(o.evalN))
	return s, nil
}
