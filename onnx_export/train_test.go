package onnxexport_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/ort"
)

// fixedData repeats one batch of (x, target) rows.
type fixedData struct{ x, y [][]float32 }

func (d fixedData) Len() int { return len(d.x) }
func (d fixedData) Example(i int, _ *rand.Rand, dst []onnxexport.ExampleSlot) error {
	copy(dst[0].F32, d.x[i])
	copy(dst[1].F32, d.y[i])
	return nil
}

// TestAdamWStepMatchesReference trains w in loss = mean((w·x - y)²) for a
// few steps with clipping, weight decay and EMA, and compares every state
// tensor with a direct Go transcription of torch.optim.AdamW and
// clip_grad_norm_.
func TestAdamWStepMatchesReference(t *testing.T) {
	testort.Init(t)
	const n, k = 4, 3
	b := onnxexport.NewBuilder("adamw")
	x := b.Input("x", onnxexport.Float32, onnxexport.D(n), onnxexport.D(k))
	y := b.Input("target", onnxexport.Float32, onnxexport.D(n), onnxexport.D(k))
	w0 := []float32{0.5, -1, 2}
	w := b.Param("w", onnxexport.NewFloat32([]int64{k}, append([]float32{}, w0...)))
	cfg := onnxexport.AdamWConfig{Beta1: 0.8, Beta2: 0.9, Eps: 1e-6, WeightDecay: 0.1, MaxGradNorm: 0.5, EMADecay: 0.7}
	g, err := onnxexport.NewTrainGraph(b, b.MSELoss(b.Mul(x, w), y), cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := fixedData{}
	rng := rand.New(rand.NewPCG(3, 4))
	for range n {
		xr, yr := make([]float32, k), make([]float32, k)
		for j := range k {
			xr[j], yr[j] = float32(rng.Float64()*2-1), float32(rng.Float64()*2-1)
		}
		data.x, data.y = append(data.x, xr), append(data.y, yr)
	}
	sched := onnxexport.LRSchedule{Peak: 0.1, Min: 0.01, Warmup: 1, Total: 5}
	tr, err := onnxexport.NewTrainer(g, data, onnxexport.TrainerOptions{Schedule: sched, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	// Reference, in float64. The batch is the whole dataset (shuffling
	// does not change a mean over all rows).
	wr, m, v, ema := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	for j := range k {
		wr[j], ema[j] = float64(w0[j]), float64(w0[j])
	}
	for step := 1; step <= 4; step++ {
		grad := make([]float64, k)
		var loss float64
		for i := range n {
			for j := range k {
				r := wr[j]*float64(data.x[i][j]) - float64(data.y[i][j])
				loss += r * r / (n * k)
				grad[j] += 2 * r * float64(data.x[i][j]) / (n * k)
			}
		}
		var norm float64
		for _, gj := range grad {
			norm += gj * gj
		}
		norm = math.Sqrt(norm)
		coef := math.Min(1, cfg.MaxGradNorm/(norm+1e-6))
		lr := sched.At(step)
		for j := range k {
			gj := grad[j] * coef
			wr[j] *= 1 - lr*cfg.WeightDecay
			m[j] = cfg.Beta1*m[j] + (1-cfg.Beta1)*gj
			v[j] = cfg.Beta2*v[j] + (1-cfg.Beta2)*gj*gj
			bc1, bc2 := 1-math.Pow(cfg.Beta1, float64(step)), 1-math.Pow(cfg.Beta2, float64(step))
			wr[j] -= lr / bc1 * m[j] / (math.Sqrt(v[j])/math.Sqrt(bc2) + cfg.Eps)
			ema[j] = cfg.EMADecay*ema[j] + (1-cfg.EMADecay)*wr[j]
		}
		info, err := tr.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !close64(info.Loss, loss, 1e-5) || !close64(info.GradNorm, norm, 1e-5) {
			t.Errorf("step %d: got loss %v norm %v, want %v and %v", step, info.Loss, info.GradNorm, loss, norm)
		}
		for name, want := range map[bool][]float64{false: wr, true: ema} {
			got := tr.Weights(name)["w"].Float32
			for j := range k {
				if !close64(float64(got[j]), want[j], 1e-5) {
					t.Errorf("step %d (ema %v) w[%d]: got %v, want %v", step, name, j, got[j], want[j])
				}
			}
		}
	}
}

func close64(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*(1+math.Abs(want))
}

func newArchTrainer(t *testing.T, arch string, steps int, seed uint64) *onnxexport.Trainer {
	return newArchTrainerRNG(t, arch, steps, seed, seed)
}

// newArchTrainerRNG is newArchTrainer with the trainer's RNG seeded apart
// from the weights and the data.
func newArchTrainerRNG(t *testing.T, arch string, steps int, seed, rngSeed uint64) *onnxexport.Trainer {
	t.Helper()
	testort.Init(t)
	a, err := onnxexport.TrainArchByName(arch)
	if err != nil {
		t.Fatal(err)
	}
	b, loss := a.Loss(seed, a.Batch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := onnxexport.NewTrainer(g, a.Data(seed), onnxexport.TrainerOptions{
		Schedule: onnxexport.LRSchedule{Peak: a.LR, Min: a.LR / 10, Warmup: steps / 10, Total: steps},
		Seed:     rngSeed, Threads: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestTrainLossFalls trains the built-in architectures briefly and wants
// the mean loss of the last steps below the first steps' by a stated
// factor (measured here: mlp 14x, conv-ae 26x).
func TestTrainLossFalls(t *testing.T) {
	tests := []struct {
		arch   string
		steps  int
		factor float64
	}{
		{"mlp", 300, 5},
		{"conv-ae", 150, 10},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			tr := newArchTrainer(t, tc.arch, tc.steps, 1)
			var first, last float64
			const window = 10
			for s := 1; s <= tc.steps; s++ {
				info, err := tr.Step(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if s <= window {
					first += info.Loss / window
				}
				if s > tc.steps-window {
					last += info.Loss / window
				}
			}
			t.Logf("%s: loss %.5f -> %.5f over %d steps (%.1fx)", tc.arch, first, last, tc.steps, first/last)
			if !(last*tc.factor <= first) {
				t.Errorf("loss fell from %.5f to %.5f, want at least %vx", first, last, tc.factor)
			}
		})
	}
}

// TestTrainResumeExact: 12 steps straight and 6 + checkpoint + 6 in a new
// trainer give bit-identical weights, EMA and losses.
func TestTrainResumeExact(t *testing.T) {
	const total, half = 12, 6
	straight := newArchTrainer(t, "mlp", total, 5)
	var want []float64
	for range total {
		info, err := straight.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, info.Loss)
	}
	path := filepath.Join(t.TempDir(), "ckpt.bin")
	first := newArchTrainer(t, "mlp", total, 5)
	for range half {
		if _, err := first.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Save(path); err != nil {
		t.Fatal(err)
	}
	resumed := newArchTrainerRNG(t, "mlp", total, 5, 99) // another RNG seed: the checkpoint must restore the RNG
	if err := resumed.Load(path); err != nil {
		t.Fatal(err)
	}
	if resumed.StepCount() != half {
		t.Fatalf("resumed at step %d, want %d", resumed.StepCount(), half)
	}
	for s := half; s < total; s++ {
		info, err := resumed.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Loss != want[s] {
			t.Errorf("step %d: resumed loss %v, straight %v", s+1, info.Loss, want[s])
		}
	}
	for _, ema := range []bool{false, true} {
		a, b := straight.Weights(ema), resumed.Weights(ema)
		for name, ta := range a {
			for i, v := range ta.Float32 {
				if b[name].Float32[i] != v {
					t.Fatalf("ema=%v %s[%d]: resumed %v, straight %v", ema, name, i, b[name].Float32[i], v)
				}
			}
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
}

func TestCheckpointRefusesOtherArchitecture(t *testing.T) {
	dir := t.TempDir()
	mlp := newArchTrainer(t, "mlp", 10, 1)
	path := filepath.Join(dir, "mlp.ckpt")
	if err := mlp.Save(path); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.ckpt")
	if err := os.WriteFile(garbage, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	ae := newArchTrainer(t, "conv-ae", 10, 1)
	tests := []struct {
		name, path, want string
	}{
		{"other architecture", path, `written for "mlp", this trainer trains "conv-ae"`},
		{"not a checkpoint", garbage, "bad header"},
		{"missing file", filepath.Join(dir, "none"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ae.Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
			if ae.StepCount() != 0 {
				t.Errorf("a refused checkpoint changed the step to %d", ae.StepCount())
			}
		})
	}
}

// TestTrainedWeightsExport loads the EMA weights of a trained MLP into its
// inference graph and checks the exported model now fits the data.
func TestTrainedWeightsExport(t *testing.T) {
	tr := newArchTrainer(t, "mlp", 300, 2)
	if _, err := tr.Run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	a, _ := onnxexport.TrainArchByName("mlp")
	inf := a.Inference(12345) // other random weights, replaced below
	if err := inf.LoadParams(tr.Weights(true)); err != nil {
		t.Fatal(err)
	}
	data := a.Data(2)
	const rows = 64
	xs, ys := make([]float32, 0, rows*4), make([]float32, 0, rows*2)
	for i := range rows {
		slots := []onnxexport.ExampleSlot{{F32: make([]float32, 4)}, {F32: make([]float32, 2)}}
		if err := data.Example(i, nil, slots); err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, slots[0].F32...), append(ys, slots[1].F32...)
	}
	got := runGraph(t, inf, map[string]ort.Tensor{"x": {Shape: []int64{rows, 4}, F32: xs}}, "y")["y"]
	var mse, variance float64
	for i := range ys {
		d := float64(got.F32[i] - ys[i])
		mse += d * d / float64(len(ys))
		variance += float64(ys[i]) * float64(ys[i]) / float64(len(ys))
	}
	t.Logf("exported EMA model: mse %.4f, target mean square %.4f", mse, variance)
	if mse > variance/5 {
		t.Errorf("exported model mse %.4f, want under a fifth of the target's mean square %.4f", mse, variance)
	}
}

func TestTinyDiTTrains(t *testing.T) {
	tr := newArchTrainer(t, "tiny-dit", 80, 1)
	var first, last float64
	for s := 1; s <= 80; s++ {
		info, err := tr.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(info.Loss) {
			t.Fatalf("step %d: loss is NaN", s)
		}
		if s <= 5 {
			first += info.Loss / 5
		}
		if s > 75 {
			last += info.Loss / 5
		}
	}
	if !(last < first/2) {
		t.Errorf("noise-prediction loss went from %.4f to %.4f, want at least halved", first, last)
	}
	a, _ := onnxexport.TrainArchByName("tiny-dit")
	inf := a.Inference(1)
	if err := inf.LoadParams(tr.Weights(true)); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*4*8*8)
	out := runGraph(t, inf, map[string]ort.Tensor{"sample": {Shape: []int64{2, 4, 8, 8}, F32: x}, "timestep": {Shape: []int64{2}, F32: []float32{10, 900}}}, "out_sample")
	if s := out["out_sample"].Shape; len(s) != 4 || s[0] != 2 || s[1] != 4 {
		t.Errorf("out_sample shape %v, want [2 4 8 8]", s)
	}
}

func TestLRSchedule(t *testing.T) {
	s := onnxexport.LRSchedule{Peak: 1, Min: 0.1, Warmup: 10, Total: 110}
	tests := []struct {
		step int
		want float64
	}{
		{1, 0.1}, {5, 0.5}, {10, 1}, {60, 0.55}, {110, 0.1}, {500, 0.1},
	}
	for _, tc := range tests {
		if got := s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%d): got %v, want %v", tc.step, got, tc.want)
		}
	}
	if err := (onnxexport.LRSchedule{Peak: 1, Min: 2, Total: 3}).Validate(); !errors.Is(err, onnxexport.ErrArgument) {
		t.Errorf("min above peak: got %v, want ErrArgument", err)
	}
}

func TestTrainGraphErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func() (*onnxexport.Builder, *onnxexport.Value)
		cfg   onnxexport.AdamWConfig
		want  error
	}{
		{"no parameters", func() (*onnxexport.Builder, *onnxexport.Value) {
			b := onnxexport.NewBuilder("p")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(3))
			return b, b.ReduceSum(x, false)
		}, onnxexport.AdamWConfig{}, onnxexport.ErrArgument},
		{"loss not scalar", func() (*onnxexport.Builder, *onnxexport.Value) {
			b := onnxexport.NewBuilder("p")
			x := b.Input("x", onnxexport.Float32, onnxexport.D(3))
			return b, b.Mul(x, b.Param("w", onnxexport.NewFloat32([]int64{3}, []float32{1, 2, 3})))
		}, onnxexport.AdamWConfig{}, onnxexport.ErrShape},
		{"bad beta", func() (*onnxexport.Builder, *onnxexport.Value) {
			b := onnxexport.NewBuilder("p")
			return b, b.ReduceSum(b.Param("w", onnxexport.NewFloat32([]int64{1}, []float32{1})), false)
		}, onnxexport.AdamWConfig{Beta1: 1}, onnxexport.ErrArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, loss := tc.build()
			if _, err := onnxexport.NewTrainGraph(b, loss, tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// shortData is a dataset with its last example left out.
type shortData struct{ onnxexport.Dataset }

func (d shortData) Len() int { return d.Dataset.Len() - 1 }

// TestCheckpointRefusesOtherDatasetLength resumes a checkpoint on a
// dataset one example shorter: the shuffle order no longer fits, and Load
// must say so with ErrDatasetLength and leave the trainer untouched.
func TestCheckpointRefusesOtherDatasetLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mlp.ckpt")
	full := newArchTrainer(t, "mlp", 10, 1)
	if _, err := full.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := full.Save(path); err != nil {
		t.Fatal(err)
	}
	a, err := onnxexport.TrainArchByName("mlp")
	if err != nil {
		t.Fatal(err)
	}
	b, loss := a.Loss(1, a.Batch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	short, err := onnxexport.NewTrainer(g, shortData{a.Data(1)}, onnxexport.TrainerOptions{
		Schedule: onnxexport.LRSchedule{Peak: a.LR, Total: 10}, Seed: 1, Threads: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	err = short.Load(path)
	if !errors.Is(err, onnxexport.ErrDatasetLength) || !errors.Is(err, onnxexport.ErrArgument) {
		t.Fatalf("got %v, want ErrDatasetLength (an ErrArgument)", err)
	}
	if short.StepCount() != 0 {
		t.Errorf("a refused checkpoint changed the step to %d", short.StepCount())
	}
}
