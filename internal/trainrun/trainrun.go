package trainrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// Options configure a phase.
type Options struct {
	// State is the folder of checkpoints and loss CSVs.
	State string
	// Every is the number of steps between checkpoints (0: 200).
	Every int
	// Seed seeds the trainer's RNG; Threads is ONNX Runtime's intra-op
	// thread count (0: its default).
	Seed    uint64
	Threads int
	// Warmup is the LR warmup in steps (0: min(200, steps/10)); MinLRRatio
	// the cosine floor as a share of the peak (0: 1/20).
	Warmup     int
	MinLRRatio float64
	// AfterStep, when set, is called after every step with the trainer
	// (hosts that keep state beside the graph, such as an EMA codebook,
	// update it here).
	AfterStep func(*onnxexport.Trainer, onnxexport.StepInfo) error
	// AfterCheckpoint, when set, is called after each checkpoint is saved,
	// with the step count (hosts save their own state here).
	AfterCheckpoint func(*onnxexport.Trainer) error
	// OnResume, when set, is called after a checkpoint was loaded.
	OnResume func(*onnxexport.Trainer) error
	// OnStart, when set, is called once before the first step of this
	// run, fresh or resumed (hosts set the host inputs there, which
	// start at zero and which checkpoints do not hold).
	OnStart func(*onnxexport.Trainer) error
}

// Phase trains g on data to steps (resuming from State/name.ckpt when it
// exists) at a peak learning rate lr with warmup and cosine decay, and
// returns the final weights: the EMA copy when ema is set.
func Phase(ctx context.Context, o Options, name string, g *onnxexport.TrainGraph, data onnxexport.Dataset, steps int, lr float64, ema bool) (map[string]*onnxexport.Tensor, error) {
	every := o.Every
	if every <= 0 {
		every = 200
	}
	warm := o.Warmup
	if warm <= 0 {
		warm = min(200, steps/10)
	}
	ratio := o.MinLRRatio
	if ratio <= 0 {
		ratio = 1.0 / 20
	}
	sched := onnxexport.LRSchedule{Peak: lr, Min: lr * ratio, Warmup: warm, Total: steps}
	var rows []string
	var tr *onnxexport.Trainer
	var hookErr error
	opts := onnxexport.TrainerOptions{Schedule: sched, Seed: o.Seed, Threads: o.Threads, Progress: os.Stderr,
		OnStep: func(s onnxexport.StepInfo) {
			rows = append(rows, fmt.Sprintf("%d,%.6f,%.6f,%.3g\n", s.Step, s.Loss, s.GradNorm, s.LR))
			if o.AfterStep != nil && hookErr == nil {
				hookErr = o.AfterStep(tr, s)
			}
		}}
	tr, err := onnxexport.NewTrainer(g, data, opts)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if err := os.MkdirAll(o.State, 0o755); err != nil {
		return nil, err
	}
	ckpt := filepath.Join(o.State, name+".ckpt")
	csvPath := filepath.Join(o.State, name+"_loss.csv")
	if err := tr.Load(ckpt); err == nil {
		fmt.Printf("%s: resumed at step %d\n", name, tr.StepCount())
		if err := truncateCSV(csvPath, tr.StepCount()); err != nil {
			return nil, err
		}
		if o.OnResume != nil {
			if err := o.OnResume(tr); err != nil {
				return nil, err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	} else if err := os.WriteFile(csvPath, []byte("step,loss,grad_norm,lr\n"), 0o644); err != nil {
		return nil, err
	}
	if o.OnStart != nil {
		if err := o.OnStart(tr); err != nil {
			return nil, err
		}
	}
	for tr.StepCount() < steps {
		until := min(steps, (tr.StepCount()/every+1)*every)
		last, err := tr.Run(ctx, until)
		if err == nil {
			err = hookErr
		}
		if err != nil {
			return nil, err
		}
		if err := tr.Save(ckpt); err != nil {
			return nil, err
		}
		// The rows go out before the hook, so that a hook that ends the
		// run (with an error) leaves the CSV in step with the checkpoint.
		if err := appendRows(csvPath, rows); err != nil {
			return nil, err
		}
		if o.AfterCheckpoint != nil {
			if err := o.AfterCheckpoint(tr); err != nil {
				return nil, err
			}
		}
		mean := 0.0
		for _, r := range rows {
			var st int
			var l float64
			fmt.Sscanf(r, "%d,%f", &st, &l)
			mean += l
		}
		fmt.Printf("%s: step %d mean loss %.5f (last %.5f, lr %.2g)\n", name, last.Step, mean/float64(max(len(rows), 1)), last.Loss, last.LR)
		rows = rows[:0]
	}
	return tr.Weights(ema), nil
}

func appendRows(path string, rows []string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(rows, ""))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// truncateCSV drops rows after step (written after the last checkpoint of
// an interrupted run).
func truncateCSV(path string, step int) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(raw), "\n")
	var keep []string
	for i, l := range lines {
		var s int
		if _, err := fmt.Sscanf(l, "%d,", &s); i > 0 && (err != nil || s > step) {
			continue
		}
		keep = append(keep, l)
	}
	return os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644)
}

// Probe times steps training steps of g on data with a fresh trainer
// (nothing is saved) at a flat learning rate lr, printing the parameter
// count, then each step's loss and wall time followed by what describe
// returns for it (describe may be nil; hosts that keep state beside the
// graph update it there, as AfterStep does in Phase).
func Probe(ctx context.Context, o Options, name string, g *onnxexport.TrainGraph, data onnxexport.Dataset, steps int, lr float64,
	describe func(*onnxexport.Trainer, onnxexport.StepInfo) (string, error)) error {
	tr, err := onnxexport.NewTrainer(g, data, onnxexport.TrainerOptions{
		Schedule: onnxexport.LRSchedule{Peak: lr, Warmup: 1, Total: max(steps, 10)}, Seed: o.Seed, Threads: o.Threads})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer tr.Close()
	n := int64(0)
	for _, p := range g.Params {
		n += p.Init.NumElements()
	}
	fmt.Printf("%s: %d parameters\n", name, n)
	for range steps {
		t := time.Now()
		info, err := tr.Step(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		extra := ""
		if describe != nil {
			if extra, err = describe(tr, info); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		fmt.Printf("  step %d loss %.4f%s %s\n", info.Step, info.Loss, extra, time.Since(t).Round(time.Millisecond))
	}
	return nil
}
