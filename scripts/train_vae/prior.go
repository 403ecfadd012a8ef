package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/imagegen/imagegen/internal/jsonfile"
	"github.com/imagegen/imagegen/internal/trainrun"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// The learned prior p(z | c): a mixture of K diagonal Gaussians whose
// weights, means and log standard deviations an MLP makes from the
// condition, fitted by maximum likelihood to posterior samples
// z ~ q(z | x, c) of training pictures from the trained, frozen encoder
// (ex-post density estimation, as in Ghosh et al. 2020, "From variational
// to deterministic autoencoders"). The N(0, I) prior leaves holes where
// no posterior puts mass, and prior draws that land there decode to
// smeared shapes; the fitted mixture follows the aggregate posterior of
// each condition instead.

// priorConfig is the prior network's shape.
type priorConfig struct {
	// Components is K; Hidden the width of the MLP's two hidden layers.
	Components, Hidden int64
	// Latent is Z.
	Latent int64
}

// Log standard deviations of the components are clamped to this range:
// the posteriors' own standard deviations lie well inside it, and the
// bounds keep a component from collapsing onto one sample.
const priorMinLogStd, priorMaxLogStd = -6, 2

// priorNet maps conditions c [B,70] to the mixture's logits [B,K],
// means and log standard deviations [B,K,Z].
func priorNet(l *onnxexport.Layers, cfg priorConfig, c *onnxexport.Value) (logits, mean, logStd *onnxexport.Value) {
	defer l.Scope("prior")()
	h := l.SiLU(l.Linear("fc1", c, cfg.Hidden, true))
	h = l.SiLU(l.Linear("fc2", h, cfg.Hidden, true))
	logits = l.Linear("logits", h, cfg.Components, true)
	mean = l.Reshape(l.Linear("mean", h, cfg.Components*cfg.Latent, true), -1, cfg.Components, cfg.Latent)
	logStd = l.Reshape(l.Linear("log_std", h, cfg.Components*cfg.Latent, true), -1, cfg.Components, cfg.Latent)
	logStd = l.Max(l.Min(logStd, l.ScalarLike(logStd, priorMaxLogStd)), l.ScalarLike(logStd, priorMinLogStd))
	return logits, mean, logStd
}

// priorLoss builds the prior's training loss on a batch: inputs
// condition [B,70] and latent [B,Z] (posterior samples); the loss is
// −log p(z | c) per latent dimension in nats, averaged over the batch.
// The log-sum-exp over the components is ReduceMax (held out of the
// gradient, which does not depend on the shift), Exp, ReduceSum and Log.
func priorLoss(cfg priorConfig, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("cvae_prior")
	l := onnxexport.NewLayers(b, seed)
	c := b.Input(inCondition, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	z := b.Input(inLatent, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(cfg.Latent))
	logits, mean, logStd := priorNet(l, cfg, c)
	d := b.Mul(b.Sub(b.Unsqueeze(z, 1), mean), b.Exp(b.Neg(logStd))) // [B,K,Z]
	// log N(z_d; mean, σ) = −½ d² − log σ − ½ log 2π, d = (z_d − mean)/σ.
	perDim := b.Sub(b.Mul(b.Mul(d, d), b.ScalarLike(d, -0.5)), b.Add(logStd, b.ScalarLike(d, halfLog2Pi)))
	logPi := b.Op("LogSoftmax", []*onnxexport.Value{logits}, []onnxexport.Attr{onnxexport.IntAttr("axis", 1)},
		onnxexport.ValueType{DType: onnxexport.Float32, Shape: logits.Shape()})[0]
	a := b.Add(logPi, b.ReduceSum(perDim, false, 2)) // [B,K]
	top := b.StopGradient(b.ReduceMax(a, true, 1))
	lse := b.Add(b.Squeeze(top, 1), b.Log(b.ReduceSum(b.Exp(b.Sub(a, top)), false, 1)))
	return b, b.Mul(b.ReduceMean(lse, false), b.ScalarLike(lse, -1.0/float64(cfg.Latent)))
}

// Names of the exported prior's outputs.
const outLogits, outLogStd = "logits", "logstd"

// priorGraph is the exported prior: condition [batch,70] → logits
// [batch,K], mean and logstd [batch,K,Z].
func priorGraph(cfg priorConfig) *onnxexport.Builder {
	b := onnxexport.NewBuilder("cvae_prior")
	l := onnxexport.NewLayers(b, 0)
	batch := onnxexport.Sym("batch")
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(shapes.ConditionSize))
	logits, mean, logStd := priorNet(l, cfg, c)
	k, z := onnxexport.D(cfg.Components), onnxexport.D(cfg.Latent)
	b.OutputAs(outLogits, logits, batch, k)
	b.OutputAs(outMean, mean, batch, k, z)
	b.OutputAs(outLogStd, logStd, batch, k, z)
	return b
}

// posteriors are the encoder's q(z | x, c) of training pictures: means
// and log-variances [N,Z] and the conditions [N,70] they were encoded
// with.
type posteriors struct {
	n, z         int
	mean, logvar []float32
	cond         []float32
}

func (p *posteriors) Len() int { return p.n }

// Example writes picture i's condition and one fresh sample of its
// posterior.
func (p *posteriors) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 2 || len(dst[0].F32) != shapes.ConditionSize || len(dst[1].F32) != p.z {
		return fmt.Errorf("posteriors: unexpected batch layout")
	}
	copy(dst[0].F32, p.cond[i*shapes.ConditionSize:(i+1)*shapes.ConditionSize])
	for d := range p.z {
		k := i*p.z + d
		dst[1].F32[d] = p.mean[k] + float32(math.Exp(0.5*float64(p.logvar[k]))*rng.NormFloat64())
	}
	return nil
}

// encodePosteriors encodes the first n training pictures (dequantized
// with noise from a fixed seed) with the conditions of their captions,
// a share emptyRate of them with the empty prompt's instead, as training
// did.
func encodePosteriors(ctx context.Context, m *cvae, n int, emptyRate float64) (*posteriors, error) {
	empty, err := shapes.Condition("")
	if err != nil {
		return nil, err
	}
	zd := int(m.latent)
	p := &posteriors{n: n, z: zd, mean: make([]float32, 0, n*zd), logvar: make([]float32, 0, n*zd),
		cond: make([]float32, 0, n*shapes.ConditionSize)}
	rng := rand.New(rand.NewPCG(5, 5))
	ds := shapes.Dataset{Split: shapes.Train, Size: imageSize}
	const batch = 64
	x := make([]float32, batch*pixels)
	for i0 := 0; i0 < n; i0 += batch {
		nb := min(batch, n-i0)
		c0 := len(p.cond)
		for j := range nb {
			s, err := ds.Sample(i0 + j)
			if err != nil {
				return nil, err
			}
			dequantize(s.Image.Pix, s.Image.Stride, rng.Float64, x[j*pixels:(j+1)*pixels])
			c := empty
			if rng.Float64() >= emptyRate {
				if c, err = shapes.Condition(s.Caption); err != nil {
					return nil, fmt.Errorf("caption %q: %w", s.Caption, err)
				}
			}
			p.cond = append(p.cond, c...)
		}
		mean, logvar, err := m.encode(ctx, x[:nb*pixels], p.cond[c0:], nb)
		if err != nil {
			return nil, err
		}
		p.mean = append(p.mean, mean...)
		p.logvar = append(p.logvar, logvar...)
		if (i0/batch)%200 == 0 {
			fmt.Printf("encoded %d of %d training pictures\n", i0+nb, n)
		}
	}
	return p, nil
}

// loadPosteriors reads the posteriors cached at path, or encodes them
// with the encoder of the model in dir and caches them there.
func loadPosteriors(ctx context.Context, path, dir string, n int, emptyRate float64, threads int) (*posteriors, error) {
	if raw, err := os.ReadFile(path); err == nil {
		return decodePosteriors(raw, n)
	}
	m, err := openExported(dir, threads)
	if err != nil {
		return nil, err
	}
	defer m.close()
	p, err := encodePosteriors(ctx, m, n, emptyRate)
	if err != nil {
		return nil, err
	}
	buf := binary.LittleEndian.AppendUint32(nil, uint32(p.n))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(p.z))
	for _, s := range [][]float32{p.mean, p.logvar, p.cond} {
		for _, v := range s {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// decodePosteriors parses the cache that loadPosteriors writes: N and Z
// (uint32), then the means, log-variances and conditions as float32, all
// little-endian.
func decodePosteriors(raw []byte, want int) (*posteriors, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("posterior cache: short file")
	}
	n, z := int(binary.LittleEndian.Uint32(raw)), int(binary.LittleEndian.Uint32(raw[4:]))
	if n != want || len(raw) != 8+4*n*(2*z+shapes.ConditionSize) {
		return nil, fmt.Errorf("posterior cache: %d pictures of %d dims in %d bytes, want %d pictures (remove the cache to encode again)", n, z, len(raw), want)
	}
	vals := make([]float32, (len(raw)-8)/4)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[8+4*i:]))
	}
	return &posteriors{n: n, z: z, mean: vals[:n*z], logvar: vals[n*z : 2*n*z], cond: vals[2*n*z:]}, nil
}

// trainPrior fits the prior to the posteriors of the model exported in
// o.out (resumable: STATE/NAME_prior.ckpt) and returns its EMA weights.
func trainPrior(ctx context.Context, o options, cfg priorConfig) (map[string]*onnxexport.Tensor, error) {
	if err := os.MkdirAll(o.state, 0o755); err != nil {
		return nil, err
	}
	cache := filepath.Join(o.state, fmt.Sprintf("%s_posteriors_%d.bin", o.name, o.priorPictures))
	data, err := loadPosteriors(ctx, cache, o.out, o.priorPictures, o.emptyRate, o.threads)
	if err != nil {
		return nil, fmt.Errorf("posteriors: %w", err)
	}
	b, loss := priorLoss(cfg, o.seed, o.priorBatch)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.998})
	if err != nil {
		return nil, err
	}
	opts := trainrun.Options{State: o.state, Every: o.every, Seed: o.seed, Threads: o.threads}
	return trainrun.Phase(ctx, opts, o.name+"_prior", g, data, o.priorSteps, o.priorLR, true)
}

// exportPrior writes the prior with weights w to dir/prior: model.onnx
// (float16 initializers) and config.json.
func exportPrior(dir string, cfg priorConfig, w map[string]*onnxexport.Tensor, temperature float64) error {
	b := priorGraph(cfg)
	if err := b.LoadParams(w); err != nil {
		return err
	}
	b.SetMetadata("imagegen.arch", "cvae-shapes")
	b.SetMetadata("imagegen.component", "prior")
	b.SetMetadata("imagegen.trained_by", "scripts/train_vae")
	m, err := b.Build(onnxexport.WithFloat16Weights())
	if err != nil {
		return fmt.Errorf("prior: %w", err)
	}
	out := filepath.Join(dir, "prior")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := onnxexport.Save(filepath.Join(out, "model.onnx"), m); err != nil {
		return err
	}
	return writePriorConfig(out, priorFileConfig{Components: cfg.Components, LatentDim: cfg.Latent,
		ConditionSize: shapes.ConditionSize, Temperature: temperature, Parameters: b.NumParams()})
}

// priorFileConfig is prior/config.json.
type priorFileConfig struct {
	Components    int64   `json:"components"`
	LatentDim     int64   `json:"latent_dim"`
	ConditionSize int     `json:"condition_size"`
	Temperature   float64 `json:"temperature"`
	Parameters    int64   `json:"parameters"`
}

func writePriorConfig(dir string, c priorFileConfig) error {
	return jsonfile.Write(filepath.Join(dir, "config.json"), c)
}

// runPrior is the -prior phase: fit the prior to the posteriors of the
// model in o.out, export it to o.out/prior and evaluate the folder.
func runPrior(ctx context.Context, o options) error {
	if o.out == "" {
		return fmt.Errorf("-prior needs -out, the exported model to fit the prior to")
	}
	cfg := priorConfig{Components: o.priorComponents, Hidden: o.priorHidden, Latent: o.latent}
	start := time.Now()
	w, err := trainPrior(ctx, o, cfg)
	if err != nil {
		return fmt.Errorf("train prior: %w", err)
	}
	fmt.Printf("prior training: %s\n", time.Since(start).Round(time.Second))
	// The temperature is chosen by evaluate; 1 until then.
	if err := exportPrior(o.out, cfg, w, 1); err != nil {
		return fmt.Errorf("export prior: %w", err)
	}
	fmt.Println("exported", filepath.Join(o.out, "prior"))
	return evaluate(ctx, o)
}

// checkTemperatures scores the learned prior's samples at each of
// -temperatures and returns the pictures at the folder's default
// temperature. In the -prior phase it first sets that default, in
// prior/config.json, to -temperature or, when that is 0, to the
// temperature whose samples pass the checker most often.
func checkTemperatures(ctx context.Context, o options, m *cvae, p *mixturePrior, prompts []string) ([]*image.NRGBA, error) {
	var temps []float64
	for _, f := range strings.Split(o.temperatures, ",") {
		t, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || t <= 0 {
			return nil, fmt.Errorf("-temperatures: bad value %q", f)
		}
		temps = append(temps, t)
	}
	imgs := map[float64][]*image.NRGBA{}
	best, bestRate := 0.0, -1.0
	for _, t := range temps {
		rep, im, per, err := checkPrior(ctx, m, p.withTemperature(t), prompts)
		if err != nil {
			return nil, err
		}
		imgs[t] = im
		fmt.Printf("learned prior, τ = %g: samples of %d held-out prompts (seeds 0-%d): %v; %s per picture\n",
			t, len(prompts), len(prompts)-1, rep, per.Round(10*time.Microsecond))
		if r := rep.Passed.Rate(); r > bestRate {
			best, bestRate = t, r
		}
	}
	if o.prior {
		if o.temperature > 0 {
			best = o.temperature
		}
		p.cfg.Temperature = best
		p.temperature = best
		if err := writePriorConfig(filepath.Join(o.out, "prior"), p.cfg); err != nil {
			return nil, err
		}
		fmt.Printf("default temperature %g written to %s\n", best, filepath.Join(o.out, "prior", "config.json"))
	}
	if im, ok := imgs[p.temperature]; ok {
		return im, nil
	}
	_, im, _, err := checkPrior(ctx, m, p, prompts)
	return im, err
}
