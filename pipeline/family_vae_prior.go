package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
)

// mixturePrior is the VAE family's optional learned prior p(z | c): a
// mixture of K diagonal Gaussians whose weights, means and scales a small
// network computes from the condition (folder prior/: input condition
// [B, 70]; outputs logits [B, K], mean and logstd [B, K, Z]). Without it
// the prior is N(0, I).
type mixturePrior struct {
	sess *ort.Session
	cfg  priorConfig
}

// priorConfig is prior/config.json.
type priorConfig struct {
	Components    int     `json:"components"`
	LatentDim     int     `json:"latent_dim"`
	ConditionSize int     `json:"condition_size"`
	Temperature   float64 `json:"temperature"`
}

// loadPrior opens dir/prior when the checkpoint has one (nil when not).
func loadPrior(dir string, opts ort.Options, latentDim, condSize int) (*mixturePrior, error) {
	if _, err := os.Stat(filepath.Join(dir, "prior")); err != nil {
		return nil, nil
	}
	path := filepath.Join(dir, "prior", "config.json")
	var cfg priorConfig
	if err := readJSON(path, &cfg); err != nil {
		return nil, err
	}
	if cfg.Components <= 0 || cfg.LatentDim != latentDim || cfg.ConditionSize != condSize || cfg.Temperature < 0 || math.IsNaN(cfg.Temperature) {
		return nil, fmt.Errorf("%w: %s: want components > 0, latent_dim %d, condition_size %d and a temperature ≥ 0, got %+v",
			ErrNotCheckpoint, path, latentDim, condSize, cfg)
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 1
	}
	k, z := int64(cfg.Components), int64(latentDim)
	s, err := openComponent(dir, "prior", opts,
		[]ioSpec{{"condition", ort.Float32, []int64{-1, int64(condSize)}}},
		[]ioSpec{{"logits", ort.Float32, []int64{-1, k}}, {"mean", ort.Float32, []int64{-1, k, z}}, {"logstd", ort.Float32, []int64{-1, k, z}}})
	if err != nil {
		return nil, err
	}
	return &mixturePrior{sess: s, cfg: cfg}, nil
}

// mixture holds the prior's parameters for a batch of conditions.
type mixture struct {
	logits, mean, logstd []float32
	k, z                 int
}

func (m *mixturePrior) run(ctx context.Context, cond []float32, n int) (*mixture, error) {
	out := map[string]*ort.Tensor{"logits": {}, "mean": {}, "logstd": {}}
	in := map[string]ort.Tensor{"condition": {Shape: []int64{int64(n), int64(m.cfg.ConditionSize)}, F32: cond}}
	if err := m.sess.Run(ctx, in, out); err != nil {
		return nil, fmt.Errorf("pipeline: prior: %w", err)
	}
	return &mixture{logits: out["logits"].F32, mean: out["mean"].F32, logstd: out["logstd"].F32, k: m.cfg.Components, z: m.cfg.LatentDim}, nil
}

// sample draws n latents: for each, ε ~ N(0, I) (all n·Z values first, in
// order), then a component from softmax(logits) by one uniform draw, and
// z = mean_k + temperature·σ_k·ε.
func (m *mixturePrior) sample(ctx context.Context, cond []float32, n int, gen *rng.Generator) ([]float32, error) {
	mx, err := m.run(ctx, cond, n)
	if err != nil {
		return nil, err
	}
	z := make([]float32, n*mx.z)
	gen.Randn(z)
	u := make([]float32, n)
	gen.Rand(u)
	tau := float32(m.cfg.Temperature)
	for i := range n {
		k := pickComponent(mx.logits[i*mx.k:(i+1)*mx.k], float64(u[i]))
		base := (i*mx.k + k) * mx.z
		for d := range mx.z {
			z[i*mx.z+d] = mx.mean[base+d] + tau*float32(math.Exp(float64(mx.logstd[base+d])))*z[i*mx.z+d]
		}
	}
	return z, nil
}

// pickComponent returns the component whose share of softmax(logits)
// covers u in [0, 1).
func pickComponent(logits []float32, u float64) int {
	top := math.Inf(-1)
	for _, l := range logits {
		top = math.Max(top, float64(l))
	}
	total := 0.0
	for _, l := range logits {
		total += math.Exp(float64(l) - top)
	}
	acc := 0.0
	for k, l := range logits {
		acc += math.Exp(float64(l)-top) / total
		if u < acc {
			return k
		}
	}
	return len(logits) - 1
}

// logProb returns log p(z_t | c) at temperature 1 for latents zs [k, Z]
// of one condition (mixture row 0 of mx).
func (mx *mixture) logProb(zs []float32, k int) []float64 {
	out := make([]float64, k)
	logW := make([]float64, mx.k)
	top := math.Inf(-1)
	for j := range mx.k {
		top = math.Max(top, float64(mx.logits[j]))
	}
	norm := 0.0
	for j := range mx.k {
		norm += math.Exp(float64(mx.logits[j]) - top)
	}
	for t := range k {
		best := math.Inf(-1)
		for j := range mx.k {
			lw := float64(mx.logits[j]) - top - math.Log(norm)
			for d := range mx.z {
				m, ls := float64(mx.mean[j*mx.z+d]), float64(mx.logstd[j*mx.z+d])
				e := (float64(zs[t*mx.z+d]) - m) / math.Exp(ls)
				lw += -0.5*e*e - ls - 0.5*math.Log(2*math.Pi)
			}
			logW[j] = lw
			best = math.Max(best, lw)
		}
		s := 0.0
		for _, lw := range logW {
			s += math.Exp(lw - best)
		}
		out[t] = best + math.Log(s)
	}
	return out
}
