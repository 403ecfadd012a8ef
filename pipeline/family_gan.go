package pipeline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/shapes"
)

// The GAN family (ImagegenGANPipeline): a conditional generator that maps
// noise z ~ N(0, I) and the prompt's shapes attributes to a picture in one
// pass. The truncation trick (Request.Truncation, ψ in (0, 1]; the
// folder's default_truncation when unset) scales z by ψ toward its mean
// 0: smaller ψ trades variety for typical pictures.
//
// Folder: generator/model.onnx (z [B, Z], condition [B, 70] → sample
// [B, 3, S, S] in [-1, 1]) with generator/config.json.

// ganConfig is the generator's config.json.
type ganConfig struct {
	LatentDim     int    `json:"latent_dim"`
	ConditionSize int    `json:"condition_size"`
	SampleSize    int    `json:"sample_size"`
	Truncation    string `json:"truncation"` // "scale": z·ψ (the only method)
	// DefaultTruncation is ψ when a request leaves it unset (0: 1, none).
	DefaultTruncation float64 `json:"default_truncation"`
}

type ganPipeline struct {
	cfg ganConfig

	mu        sync.Mutex
	generator *ort.Session
	closed    bool
}

func loadGAN(ctx context.Context, dir string, _ Family, _ *modelIndex, opts Options) (familyPipeline, error) {
	p := &ganPipeline{}
	cfgPath := filepath.Join(dir, "generator", "config.json")
	if err := readJSON(cfgPath, &p.cfg); err != nil {
		return nil, err
	}
	c := p.cfg
	if c.LatentDim <= 0 || c.SampleSize <= 0 || c.ConditionSize != shapes.ConditionSize {
		return nil, fmt.Errorf("%w: %s: want latent_dim > 0, sample_size > 0 and condition_size %d, got %+v",
			ErrNotCheckpoint, cfgPath, shapes.ConditionSize, c)
	}
	if d := c.DefaultTruncation; math.IsNaN(d) || d < 0 || d > 1 {
		return nil, fmt.Errorf("%w: %s: default_truncation %g outside (0, 1]", ErrNotCheckpoint, cfgPath, d)
	}
	if c.Truncation != "" && c.Truncation != "scale" {
		return nil, fmt.Errorf("%w: %s: truncation %q (this pipeline knows \"scale\")", ErrNotCheckpoint, cfgPath, c.Truncation)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var err error
	p.generator, err = openComponent(dir, "generator", opts.Session,
		[]ioSpec{{"z", ort.Float32, []int64{-1, int64(c.LatentDim)}}, {"condition", ort.Float32, []int64{-1, int64(c.ConditionSize)}}},
		[]ioSpec{{"sample", ort.Float32, []int64{-1, 3, int64(c.SampleSize), int64(c.SampleSize)}}})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *ganPipeline) defaultSize() (int, int) { return p.cfg.SampleSize, p.cfg.SampleSize }

func (p *ganPipeline) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.generator != nil {
		p.generator.Close()
	}
	p.generator = nil
	return nil
}

// truncation returns ψ of a request: the folder's default (or 1) when
// unset, an error outside (0, 1].
func (p *ganPipeline) truncation(r Request) (float64, error) {
	psi := r.Truncation
	if psi == 0 {
		if p.cfg.DefaultTruncation > 0 {
			return p.cfg.DefaultTruncation, nil
		}
		return 1, nil
	}
	if math.IsNaN(psi) || psi < 0 || psi > 1 {
		return 0, badRequest("truncation must be in (0, 1], got %g", psi)
	}
	return psi, nil
}

func (p *ganPipeline) generate(ctx context.Context, r Request) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	start := time.Now()
	if len(r.Prompts) == 0 {
		return nil, badRequest("no prompt given")
	}
	psi, err := p.truncation(r)
	if err != nil {
		return nil, err
	}
	rest := r
	rest.Truncation = 0
	if err := checkOnePass(rest, "GAN"); err != nil {
		return nil, err
	}
	if err := checkFixedSize(r, p.cfg.SampleSize); err != nil {
		return nil, err
	}
	per := max(1, r.NumImages)
	cond, err := attributeConditions(r.Prompts, per)
	if err != nil {
		return nil, err
	}
	n := len(r.Prompts) * per
	z := make([]float32, n*p.cfg.LatentDim)
	rng.New(r.Seed).Randn(z)
	for i := range z {
		z[i] *= float32(psi)
	}
	res, err := conditionalDecode(ctx, p.generator, "generator", "z", z, cond, n, p.cfg.LatentDim, p.cfg.ConditionSize, p.cfg.SampleSize, FamilyGAN)
	if err != nil {
		return nil, err
	}
	res.Seed = r.Seed
	res.Timings.Total = time.Since(start)
	return res, nil
}
