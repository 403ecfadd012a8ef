package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/schedulers"
)

// denoiseLoop is the scheduler loop every diffusion family runs, whatever
// the rank of its latents (4-D pictures, 5-D clips): scale the latents,
// ask the family for a guided prediction, step the scheduler, check for
// NaN, report. What differs between families (how the model input is laid
// out, which guidance applies) lives in predict.
type denoiseLoop struct {
	sched     schedulers.Scheduler
	timesteps []float64 // the model timesteps that run
	begin     int       // scheduler index of timesteps[0] (img2img skips the start)
	latents   []float32 // stepped in place
	noise     schedulers.Noise
	// predict runs the model on the scaled latents of step k (timestep t)
	// and returns the prediction the scheduler steps with, guidance
	// applied. The slice may be reused from step to step.
	predict func(ctx context.Context, k int, t float64, scaled []float32) ([]float32, error)
	// afterStep, when set, runs right after each scheduler step, before
	// the NaN check (inpainting's blend).
	afterStep func(k int) error
	// progress, when set, is called after each checked step.
	progress func(StepInfo)
	// report, when set, runs after progress (previews).
	report func(ctx context.Context, k int) error
}

// run steps through every timestep. It stops within one model call when
// ctx is cancelled.
func (l *denoiseLoop) run(ctx context.Context) error {
	scaled := make([]float32, len(l.latents))
	total := len(l.timesteps)
	for k, t := range l.timesteps {
		if err := ctx.Err(); err != nil {
			return err
		}
		i := l.begin + k
		l.sched.ScaleModelInput(scaled, l.latents, i)
		pred, err := l.predict(ctx, k, t, scaled)
		if err != nil {
			return fmt.Errorf("pipeline: step %d/%d: %w", k+1, total, err)
		}
		if err := l.sched.Step(l.latents, pred, l.latents, i, l.noise); err != nil {
			return fmt.Errorf("pipeline: step %d/%d: %w", k+1, total, err)
		}
		if l.afterStep != nil {
			if err := l.afterStep(k); err != nil {
				return err
			}
		}
		if !checkFinite(l.latents) {
			return fmt.Errorf("%w at step %d/%d (timestep %g): the model or scheduler produced NaN or Inf", ErrNaN, k+1, total, t)
		}
		if l.progress != nil {
			l.progress(StepInfo{Step: k + 1, Total: total, Timestep: t, Latents: l.latents})
		}
		if l.report != nil {
			if err := l.report(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// runDenoiser runs one denoiser call, counting it and its time in r.
func (r *run) runDenoiser(ctx context.Context, s *ort.Session, in map[string]ort.Tensor, out map[string]*ort.Tensor) error {
	t0 := time.Now()
	if err := s.Run(ctx, in, out); err != nil {
		return err
	}
	d := time.Since(t0)
	r.denoiserTime += d
	r.stepTimes = append(r.stepTimes, d)
	r.calls++
	return nil
}
