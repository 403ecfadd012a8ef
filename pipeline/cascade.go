package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/upscale"
)

// Cascade is model_index.json's "imagegen_cascade" object: the
// checkpoint draws Height x Width pictures, and a request for the size
// Stage gives them (that size times the stage's scale) runs the checkpoint
// at its own size and then the stage, Imagen's cascade. Requests for
// Height x Width run the checkpoint alone.
type Cascade struct {
	// Stage is a super-resolution stage (package upscale: a diffusion
	// stage folder or an upscaler export): "builtin:NAME", or a path
	// relative to the checkpoint folder.
	Stage string `json:"stage"`
	// Height and Width are the size the checkpoint itself draws.
	Height int `json:"height"`
	Width  int `json:"width"`
}

func (c *Cascade) validate() error {
	if c.Stage == "" || c.Height < 1 || c.Width < 1 {
		return fmt.Errorf("imagegen_cascade: want a stage and the base height and width, got %+v", *c)
	}
	return nil
}

// StageInfo describes the super-resolution stage that enlarged a
// Result's pictures.
type StageInfo struct {
	// Model is the cascade's stage reference (builtin:sr); Dir the folder
	// or file it resolved to.
	Model, Dir string
	// Scale is the enlargement; BaseHeight and BaseWidth the size the
	// checkpoint drew.
	Scale                 int
	BaseHeight, BaseWidth int
	// Steps and NoiseLevel are a diffusion stage's denoising steps and
	// input augmentation level (0 for other upscalers).
	Steps, NoiseLevel int
}

// cascade runs a checkpoint's stage; the stage opens on first use, so
// requests at the base size never load it.
type cascade struct {
	Cascade
	dir  string // the checkpoint folder, for relative stage paths
	opts upscale.Options
	once sync.Once
	up   *upscale.Upscaler
	err  error
}

func newCascade(c *Cascade, dir string, o Options) (*cascade, error) {
	if c == nil {
		return nil, nil
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &cascade{Cascade: *c, dir: dir, opts: upscale.Options{Session: o.Session, Name: c.Stage}}, nil
}

// stageDir resolves the stage reference to a folder or file.
func (c *cascade) stageDir() (string, error) {
	if strings.HasPrefix(c.Stage, builtin.Scheme) {
		m, err := builtin.ByName(c.Stage)
		if err != nil {
			return "", err
		}
		return m.Dir("")
	}
	if filepath.IsAbs(c.Stage) {
		return c.Stage, nil
	}
	return filepath.Join(c.dir, filepath.FromSlash(c.Stage)), nil
}

func (c *cascade) open(ctx context.Context) (*upscale.Upscaler, error) {
	c.once.Do(func() {
		dir, err := c.stageDir()
		if err == nil {
			c.up, err = upscale.Open(ctx, dir, c.opts)
		}
		if err != nil {
			c.err = fmt.Errorf("pipeline: cascade stage %s: %w", c.Stage, err)
		}
	})
	return c.up, c.err
}

// covers reports whether r asks for more than the base draws: a size
// given and other than the base's.
func (c *cascade) covers(r Request) bool {
	return (r.Height != 0 || r.Width != 0) && (r.Height != c.Height || r.Width != c.Width)
}

// generate runs the checkpoint at the base size and the stage on each
// picture (seeded by stageSeed).
func (c *cascade) generate(ctx context.Context, impl familyPipeline, r Request) (*Result, error) {
	up, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	s := up.Scale()
	if r.Height != c.Height*s || r.Width != c.Width*s {
		return nil, badRequest("size %dx%d: this model draws %dx%d, or %dx%d through its stage %s",
			r.Width, r.Height, c.Width, c.Height, c.Width*s, c.Height*s, c.Stage)
	}
	base := r
	base.Height, base.Width = c.Height, c.Width
	res, err := impl.generate(ctx, base)
	if err != nil {
		return nil, err
	}
	if res.Frames > 0 {
		return nil, badRequest("the cascade stage %s enlarges pictures; this model made a clip", c.Stage)
	}
	start := time.Now()
	info := &StageInfo{Model: c.Stage, Dir: up.Path(), Scale: s, BaseHeight: res.H, BaseWidth: res.W}
	if cfg, ok := up.Stage(); ok {
		info.Steps, info.NoiseLevel = cfg.Steps, cfg.NoiseLevel
	}
	per := res.H * res.W * 3
	images := make([]float32, 0, res.N*per*s*s)
	for i := range res.N {
		out, err := up.UpscaleHWC(ctx, res.Images[i*per:(i+1)*per], res.H, res.W, upscale.RunOptions{Seed: stageSeed(r, i, res.N)})
		if err != nil {
			return nil, fmt.Errorf("pipeline: cascade stage %s: %w", c.Stage, err)
		}
		images = append(images, out...)
	}
	res.Images, res.H, res.W, res.Stage = images, res.H*s, res.W*s, info
	res.Timings.Stage = time.Since(start)
	res.Timings.Total += res.Timings.Stage
	return res, nil
}

// stageSeed is the seed of the stage's run on picture i of n: r.Seed+i,
// or with per-prompt seeds the prompt's seed plus the picture's index
// among its prompt's, so that a prompt batched with others gets the
// pictures of its run alone.
func stageSeed(r Request, i, n int) uint64 {
	if len(r.Seeds) == 0 {
		return r.Seed + uint64(i)
	}
	per := max(n/len(r.Seeds), 1)
	return r.Seeds[min(i/per, len(r.Seeds)-1)] + uint64(i%per)
}

func (c *cascade) close() error {
	if c == nil || c.up == nil {
		return nil
	}
	err := c.up.Close()
	c.up = nil
	return err
}
