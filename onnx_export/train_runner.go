package onnxexport

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/imagegen/imagegen/ort"
)

// TrainerOptions configure a Trainer.
type TrainerOptions struct {
	Schedule LRSchedule
	// Seed seeds the trainer's RNG (shuffling and whatever the dataset
	// draws); the network's initial weights come from the TrainGraph.
	Seed uint64
	// Threads is ONNX Runtime's intra-op thread count (0: its default).
	Threads int
	// Progress receives a progress bar with the loss and steps/s; nil
	// shows none.
	Progress io.Writer
	// OnStep is called after every step.
	OnStep func(StepInfo)
}

// StepInfo reports one finished training step.
type StepInfo struct {
	Step     int     // 1-based number of the step just taken
	Loss     float64 // loss of the batch before the update
	GradNorm float64 // global gradient norm before clipping
	LR       float64
}

// stateSet is one full copy of the trained state, one slice per tensor.
type stateSet struct{ w, m, v, ema [][]float32 }

// Trainer runs a TrainGraph on batches of a Dataset with ONNX Runtime,
// holding the weights and optimizer state on the host between steps. It is
// not safe for concurrent use.
type Trainer struct {
	g       *TrainGraph
	data    Dataset
	opt     TrainerOptions
	sess    *ort.Session
	batchN  int
	cur     stateSet
	next    stateSet
	src     *rand.PCG
	rng     *rand.Rand
	sampler sampler
	step    int
	batch   []ort.Tensor    // one per batch input
	host    []ort.Tensor    // one per host input (TrainGraph.Host), zero until SetHost
	aux     []ort.Tensor    // one per auxiliary output (TrainGraph.Aux), written by each step
	slots   [][]ExampleSlot // [example][input]
	in      map[string]ort.Tensor
	out     map[string]*ort.Tensor
	scalars map[string][]float32 // lr, step, loss, grad_norm buffers
}

// NewTrainer opens g in ONNX Runtime (which must be initialized, see
// package ort) and starts from g's initial weights with zeroed optimizer
// state at step 0.
func NewTrainer(g *TrainGraph, data Dataset, opt TrainerOptions) (*Trainer, error) {
	if err := opt.Schedule.Validate(); err != nil {
		return nil, err
	}
	if data == nil || data.Len() == 0 {
		return nil, fmt.Errorf("onnxexport: trainer %s: %w: empty dataset", g.Name, ErrArgument)
	}
	t := &Trainer{g: g, data: data, opt: opt, in: map[string]ort.Tensor{}, out: map[string]*ort.Tensor{}, scalars: map[string][]float32{}}
	var err error
	for _, bi := range g.Batch {
		if len(bi.Shape) == 0 || !bi.Shape.IsStatic() {
			return nil, fmt.Errorf("onnxexport: trainer %s: %w: batch input %s %v needs a static shape with a leading batch axis", g.Name, ErrShape, bi.Name, bi.Shape)
		}
		n := int(bi.Shape[0].Size)
		if t.batchN != 0 && n != t.batchN {
			return nil, fmt.Errorf("onnxexport: trainer %s: %w: batch inputs disagree on the batch size (%d and %d)", g.Name, ErrShape, t.batchN, n)
		}
		t.batchN = n
		size := int(bi.Shape.NumElements())
		bt := ort.Tensor{Shape: bi.Shape.Sizes()}
		if bi.DType.IsFloat() {
			bt.F32 = make([]float32, size)
		} else {
			bt.I64 = make([]int64, size)
		}
		t.batch = append(t.batch, bt)
	}
	t.slots = make([][]ExampleSlot, t.batchN)
	for e := range t.slots {
		t.slots[e] = make([]ExampleSlot, len(t.batch))
		for k, bt := range t.batch {
			per := bt.Len() / t.batchN
			if bt.F32 != nil {
				t.slots[e][k].F32 = bt.F32[e*per : (e+1)*per]
			} else {
				t.slots[e][k].I64 = bt.I64[e*per : (e+1)*per]
			}
		}
	}
	for _, p := range g.Params {
		if p.DType != Float32 {
			return nil, fmt.Errorf("onnxexport: trainer %s: %w: parameter %s is %v; the trainer runs float32 graphs", g.Name, ErrType, p.Name, p.DType)
		}
	}
	if t.host, err = staticTensors(g.Name, "host input", g.Host); err != nil {
		return nil, err
	}
	if t.aux, err = staticTensors(g.Name, "auxiliary output", g.Aux); err != nil {
		return nil, err
	}
	t.cur, t.next = t.newState(), t.newState()
	for i, p := range g.Params {
		copy(t.cur.w[i], p.Init.Float32)
		if p.HasEMA {
			copy(t.cur.ema[i], p.Init.Float32)
		}
	}
	t.src = rand.NewPCG(opt.Seed, opt.Seed^0x5851f42d4c957f2d)
	t.rng = rand.New(t.src)
	t.sess, err = ort.OpenBytes("train:"+g.Name, g.Model, ort.Options{IntraOpThreads: opt.Threads})
	if err != nil {
		return nil, fmt.Errorf("onnxexport: trainer %s: %w", g.Name, err)
	}
	return t, nil
}

// staticTensors allocates one zeroed buffer per value of vs, which must
// have static shapes (what names them, for errors).
func staticTensors(graph, what string, vs []ValueInfo) ([]ort.Tensor, error) {
	out := make([]ort.Tensor, len(vs))
	for k, v := range vs {
		if !v.Shape.IsStatic() {
			return nil, fmt.Errorf("onnxexport: trainer %s: %w: %s %s %v needs a static shape", graph, ErrShape, what, v.Name, v.Shape)
		}
		out[k].Shape = v.Shape.Sizes()
		n := int(v.Shape.NumElements())
		switch {
		case v.DType.IsFloat():
			out[k].F32 = make([]float32, n)
		case v.DType == Int64:
			out[k].I64 = make([]int64, n)
		default:
			return nil, fmt.Errorf("onnxexport: trainer %s: %w: %s %s is %v; want a float or int64", graph, ErrType, what, v.Name, v.DType)
		}
	}
	return out, nil
}

// SetHost copies v into the host input called name (TrainGraph.Host),
// which every later step reads until the next SetHost. v holds float32
// data (F32) for a floating-point input, int64 data (I64) for an integer
// one, and as many elements as the input's static shape; a Shape, when
// given, must equal it. Host inputs start at zero, and Save does not
// write them: the host keeps and checkpoints the state they come from,
// and sets them again after Load.
func (t *Trainer) SetHost(name string, v ort.Tensor) error {
	k := slices.IndexFunc(t.g.Host, func(h ValueInfo) bool { return h.Name == name })
	if k < 0 {
		return fmt.Errorf("onnxexport: trainer %s: %w: no host input %q", t.g.Name, ErrArgument, name)
	}
	dst := t.host[k]
	if v.Shape != nil && !slices.Equal(v.Shape, dst.Shape) {
		return fmt.Errorf("onnxexport: trainer %s: %w: host input %s is %v, got %v", t.g.Name, ErrShape, name, dst.Shape, v.Shape)
	}
	switch {
	case dst.F32 != nil && len(v.F32) == len(dst.F32):
		copy(dst.F32, v.F32)
	case dst.I64 != nil && len(v.I64) == len(dst.I64):
		copy(dst.I64, v.I64)
	default:
		return fmt.Errorf("onnxexport: trainer %s: %w: host input %s %v wants %d %s values, got %d float32 and %d int64", t.g.Name, ErrShape, name, dst.Shape, dst.Len(), t.g.Host[k].DType, len(v.F32), len(v.I64))
	}
	return nil
}

// Aux returns the auxiliary output called name (TrainGraph.Aux) as the
// last step computed it: F32 for a floating-point output, I64 for an
// integer one. The slices are the trainer's own and the next Step
// overwrites them; copy what must outlive it.
func (t *Trainer) Aux(name string) (ort.Tensor, error) {
	k := slices.IndexFunc(t.g.Aux, func(a ValueInfo) bool { return a.Name == name })
	if k < 0 {
		return ort.Tensor{}, fmt.Errorf("onnxexport: trainer %s: %w: no auxiliary output %q", t.g.Name, ErrArgument, name)
	}
	return t.aux[k], nil
}

func (t *Trainer) newState() stateSet {
	var s stateSet
	for _, p := range t.g.Params {
		n := int(p.Init.NumElements())
		s.w = append(s.w, make([]float32, n))
		s.m = append(s.m, make([]float32, n))
		s.v = append(s.v, make([]float32, n))
		var e []float32
		if p.HasEMA {
			e = make([]float32, n)
		}
		s.ema = append(s.ema, e)
	}
	return s
}

// Close releases the ONNX Runtime session.
func (t *Trainer) Close() error { return t.sess.Close() }

// StepCount returns the number of steps taken (restored by Load).
func (t *Trainer) StepCount() int { return t.step }

// scalar returns a reusable [1] buffer.
func (t *Trainer) scalar(name string) []float32 {
	if b, ok := t.scalars[name]; ok {
		return b
	}
	b := make([]float32, 1)
	t.scalars[name] = b
	return b
}

// Step draws one batch, runs one training step and swaps in the updated
// state.
func (t *Trainer) Step(ctx context.Context) (StepInfo, error) {
	for e := range t.batchN {
		i := t.sampler.next(t.data.Len(), t.rng)
		if err := t.data.Example(i, t.rng, t.slots[e]); err != nil {
			return StepInfo{}, fmt.Errorf("onnxexport: trainer %s: example %d: %w", t.g.Name, i, err)
		}
	}
	n := t.step + 1
	lr := t.opt.Schedule.At(n)
	t.scalar(TrainInputLR)[0] = float32(lr)
	t.scalar(TrainInputStep)[0] = float32(n)
	one := []int64{1}
	t.in[TrainInputLR] = ort.Tensor{Shape: one, F32: t.scalar(TrainInputLR)}
	t.in[TrainInputStep] = ort.Tensor{Shape: one, F32: t.scalar(TrainInputStep)}
	for k, bi := range t.g.Batch {
		t.in[bi.Name] = t.batch[k]
	}
	for k, hi := range t.g.Host {
		t.in[hi.Name] = t.host[k]
	}
	for k, ai := range t.g.Aux {
		t.out[ai.Name] = &t.aux[k]
	}
	t.out[TrainOutputLoss] = &ort.Tensor{Shape: one, F32: t.scalar(TrainOutputLoss)}
	t.out[TrainOutputNorm] = &ort.Tensor{Shape: one, F32: t.scalar(TrainOutputNorm)}
	for i, p := range t.g.Params {
		feed := func(name string, cur, next []float32) {
			t.in[name] = ort.Tensor{Shape: p.Shape, F32: cur}
			t.out[UpdatedStatePrefix+name] = &ort.Tensor{Shape: p.Shape, F32: next}
		}
		feed(p.Name, t.cur.w[i], t.next.w[i])
		feed(StatePrefixAdamM+p.Name, t.cur.m[i], t.next.m[i])
		feed(StatePrefixAdamV+p.Name, t.cur.v[i], t.next.v[i])
		if p.HasEMA {
			feed(StatePrefixEMA+p.Name, t.cur.ema[i], t.next.ema[i])
		}
	}
	if err := t.sess.Run(ctx, t.in, t.out); err != nil {
		return StepInfo{}, fmt.Errorf("onnxexport: trainer %s: step %d: %w", t.g.Name, n, err)
	}
	t.cur, t.next = t.next, t.cur
	t.step = n
	info := StepInfo{Step: n, Loss: float64(t.scalar(TrainOutputLoss)[0]), GradNorm: float64(t.scalar(TrainOutputNorm)[0]), LR: lr}
	if t.opt.OnStep != nil {
		t.opt.OnStep(info)
	}
	return info, nil
}

// Run takes steps until StepCount reaches until, showing progress when
// TrainerOptions.Progress is set, and returns the last step's report.
func (t *Trainer) Run(ctx context.Context, until int) (StepInfo, error) {
	var bar *progressbar.ProgressBar
	if t.opt.Progress != nil && until > t.step {
		// The bar counts this run's steps only: a resumed run that set
		// the bar to its first step would report those steps as done in
		// no time (rates of millions of steps/s, a zero ETA). The
		// description carries the absolute step.
		bar = progressbar.NewOptions(until-t.step,
			progressbar.OptionSetWriter(t.opt.Progress),
			progressbar.OptionSetDescription(fmt.Sprintf("training %s step %d/%d", t.g.Name, t.step, until)),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	var last StepInfo
	for t.step < until {
		info, err := t.Step(ctx)
		if err != nil {
			return last, err
		}
		last = info
		if bar != nil {
			bar.Describe(fmt.Sprintf("training %s step %d/%d loss %.5f", t.g.Name, t.step, until, info.Loss))
			_ = bar.Add(1)
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(t.opt.Progress)
	}
	return last, nil
}

// Weights returns the current parameters by name (the EMA copy when ema is
// true and the graph keeps one), ready for Builder.LoadParams so that an
// inference graph takes the trained weights. The tensors are copies.
func (t *Trainer) Weights(ema bool) map[string]*Tensor {
	out := map[string]*Tensor{}
	for i, p := range t.g.Params {
		src := t.cur.w[i]
		if ema && p.HasEMA {
			src = t.cur.ema[i]
		}
		out[p.Name] = NewFloat32(p.Shape, append([]float32{}, src...))
	}
	return out
}
