package upscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/rng"
	"github.com/imagegen/imagegen/schedulers"
)

// StageClass is the model_index.json _class_name of a diffusion
// super-resolution stage (scripts/train_sr writes one; builtin:sr is
// one): a folder with unet/ (a denoiser that reads the low-resolution
// picture), scheduler/ and the stage's settings under
// "imagegen_super_resolution". Open runs such a folder as an upscaler.
const StageClass = "ImagegenSuperResolutionPipeline"

// ErrInputSize is wrapped by Upscale's errors about a picture of another
// size than the one a diffusion stage takes.
var ErrInputSize = errors.New("picture size is not the stage's input size")

// StageConfig is model_index.json's "imagegen_super_resolution" object.
type StageConfig struct {
	// LowResSize is the side of the square pictures the stage takes.
	LowResSize int `json:"low_res_size"`
	// Scale is the upscaling factor.
	Scale int `json:"scale"`
	// Steps is the suggested number of denoising steps.
	Steps int `json:"steps"`
	// NoiseLevel is the suggested augmentation level of the input (a
	// timestep of the training schedule, as SD x4 upscaler's noise_level);
	// MaxNoiseLevel the largest one the stage was trained with.
	NoiseLevel    int `json:"noise_level"`
	MaxNoiseLevel int `json:"max_noise_level"`
}

func (c StageConfig) validate() error {
	switch {
	case c.LowResSize < 1 || c.Scale < 2:
		return fmt.Errorf("low_res_size %d and scale %d: want at least 1 and 2", c.LowResSize, c.Scale)
	case c.Steps < 1:
		return fmt.Errorf("steps %d: want at least 1", c.Steps)
	case c.NoiseLevel < 0 || c.NoiseLevel > c.MaxNoiseLevel:
		return fmt.Errorf("noise_level %d: want 0..max_noise_level (%d)", c.NoiseLevel, c.MaxNoiseLevel)
	}
	return nil
}

// stage is the sampling state of a diffusion stage. Its scheduler keeps
// per-run state, so runs hold mu.
type stage struct {
	cfg   StageConfig
	mu    sync.Mutex
	sched schedulers.Scheduler
}

// stageIndex reads dir/model_index.json when dir is a diffusion stage's
// folder; ok is false for anything else (a file, another folder).
func stageIndex(dir string) (cfg StageConfig, ok bool, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, "model_index.json"))
	if err != nil {
		return cfg, false, nil
	}
	var idx struct {
		Class string       `json:"_class_name"`
		SR    *StageConfig `json:"imagegen_super_resolution"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil || idx.Class != StageClass {
		return cfg, false, nil
	}
	if idx.SR == nil {
		return cfg, true, fmt.Errorf("%w: %s: model_index.json has no imagegen_super_resolution settings", ErrNotUpscaler, dir)
	}
	if err := idx.SR.validate(); err != nil {
		return cfg, true, fmt.Errorf("%w: %s: imagegen_super_resolution: %v", ErrNotUpscaler, dir, err)
	}
	return *idx.SR, true, nil
}

// openStage opens the diffusion stage in dir.
func openStage(dir string, cfg StageConfig, o Options) (*Upscaler, error) {
	sched, err := schedulers.Load(filepath.Join(dir, "scheduler", "scheduler_config.json"), "", nil)
	if err != nil {
		return nil, fmt.Errorf("upscale: %s: %w", dir, err)
	}
	model := filepath.Join(dir, "unet", "model.onnx")
	sess, err := ort.Open(model, o.Session)
	if err != nil {
		return nil, fmt.Errorf("upscale: %w", err)
	}
	if err := checkStageIO(sess, cfg); err != nil {
		sess.Close()
		return nil, fmt.Errorf("upscale: %s: %w", model, err)
	}
	return &Upscaler{sess: sess, path: dir, fixedH: cfg.LowResSize, fixedW: cfg.LowResSize, scale: cfg.Scale,
		stage: &stage{cfg: cfg, sched: sched}}, nil
}

// checkStageIO checks that the denoiser takes sample [B,3,sN,sN], image
// [B,3,N,N], timestep and noise_level, and gives out_sample.
func checkStageIO(sess *ort.Session, cfg StageConfig) error {
	n, hi := int64(cfg.LowResSize), int64(cfg.LowResSize*cfg.Scale)
	want := map[string][]int64{"sample": {3, hi, hi}, "image": {3, n, n}, "timestep": nil, "noise_level": nil}
	ins := sess.Inputs()
	if len(ins) != len(want) {
		return fmt.Errorf("%w: the stage's denoiser has %d inputs, want sample, image, timestep and noise_level", ErrNotUpscaler, len(ins))
	}
	for _, in := range ins {
		dims, ok := want[in.Name]
		if !ok {
			return fmt.Errorf("%w: the stage's denoiser has an input %s, want sample, image, timestep and noise_level", ErrNotUpscaler, in)
		}
		if dims != nil && (in.Rank() != 4 || in.Shape[1] != dims[0] || in.Shape[2] != dims[1] || in.Shape[3] != dims[2]) {
			return fmt.Errorf("%w: the stage's input %s, want [batch, %d, %d, %d] (imagegen_super_resolution's sizes)", ErrNotUpscaler, in, dims[0], dims[1], dims[2])
		}
	}
	outs := sess.Outputs()
	if len(outs) != 1 || outs[0].Name != "out_sample" {
		return fmt.Errorf("%w: the stage's denoiser must have one output, out_sample", ErrNotUpscaler)
	}
	return nil
}

// run samples the stage's picture for x, a [3, h, w] picture in [0, 1]:
// the input, scaled to [-1, 1], is noised to the augmentation level, a
// standard-normal sample is drawn (both from a generator seeded with
// o.Seed, in that order), and the scheduler denoises the sample with the
// augmented input and its level beside it. The result is [3, sh, sw] in
// [0, 1], not clamped.
func (s *stage) run(ctx context.Context, u *Upscaler, x []float32, h, w int, o RunOptions) ([]float32, error) {
	n := s.cfg.LowResSize
	if h != n || w != n {
		return nil, fmt.Errorf("upscale: %w: %s takes %dx%d pictures, got %dx%d", ErrInputSize, u.name, n, n, w, h)
	}
	if o.Tile != 0 && o.Tile != n {
		return nil, fmt.Errorf("upscale: %w: tile %d: the diffusion stage %s runs whole %dx%d pictures", ErrOptions, o.Tile, u.name, n, n)
	}
	steps, level := s.cfg.Steps, s.cfg.NoiseLevel
	if o.Steps != 0 {
		steps = o.Steps
	}
	if o.NoiseLevel != nil {
		level = *o.NoiseLevel
	}
	if steps < 1 {
		return nil, fmt.Errorf("upscale: %w: steps %d: want at least 1", ErrOptions, steps)
	}
	if level < 0 || level > s.cfg.MaxNoiseLevel {
		return nil, fmt.Errorf("upscale: %w: noise level %d: want 0..%d (the stage was trained up to %d)", ErrOptions, level, s.cfg.MaxNoiseLevel, s.cfg.MaxNoiseLevel)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.sched.SetTimesteps(schedulers.TimestepParams{Steps: steps}); err != nil {
		return nil, fmt.Errorf("upscale: %s: %w", u.name, err)
	}
	gen := rng.New(o.Seed)
	low := make([]float32, len(x))
	for i, v := range x {
		low[i] = 2*v - 1
	}
	noise := make([]float32, len(low))
	gen.Randn(noise)
	s.sched.AddNoise(low, low, noise, float64(level))
	hi := n * s.cfg.Scale
	sample := make([]float32, 3*hi*hi)
	gen.Randn(sample)
	if sigma := float32(s.sched.InitNoiseSigma()); sigma != 1 {
		for i := range sample {
			sample[i] *= sigma
		}
	}
	in := make([]float32, len(sample))
	out := ort.Tensor{Shape: []int64{1, 3, int64(hi), int64(hi)}, F32: make([]float32, len(sample))}
	feed := map[string]ort.Tensor{
		"sample":      {Shape: []int64{1, 3, int64(hi), int64(hi)}, F32: in},
		"image":       {Shape: []int64{1, 3, int64(n), int64(n)}, F32: low},
		"timestep":    {Shape: []int64{1}, F32: make([]float32, 1)},
		"noise_level": {Shape: []int64{1}, F32: []float32{float32(level)}},
	}
	ts := s.sched.Timesteps()
	for i, t := range ts {
		s.sched.ScaleModelInput(in, sample, i)
		feed["timestep"].F32[0] = float32(t)
		if err := u.sess.Run(ctx, feed, map[string]*ort.Tensor{"out_sample": &out}); err != nil {
			return nil, fmt.Errorf("upscale: %s: step %d: %w", u.name, i+1, err)
		}
		if err := s.sched.Step(sample, out.F32, sample, i, gen); err != nil {
			return nil, fmt.Errorf("upscale: %s: step %d: %w", u.name, i+1, err)
		}
		if o.Progress != nil {
			o.Progress(Progress{Done: i + 1, Total: len(ts)})
		}
	}
	for i, v := range sample {
		sample[i] = (v + 1) / 2
	}
	return sample, nil
}
