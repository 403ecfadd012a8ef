package onnxexport

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Dataset is what a Trainer draws batches from: Len examples, each written
// into one slot per batch input of the training graph (TrainGraph.Batch
// order, without the batch axis). Any randomness an example needs (noise,
// timesteps, augmentation) must come from rng, which the trainer owns and
// checkpoints, so that runs are reproducible and resume exactly.
type Dataset interface {
	Len() int
	Example(i int, rng *rand.Rand, dst []ExampleSlot) error
}

// ExampleSlot is one example's share of one batch input: F32 for floating
// point inputs, I64 for integer ones, sized for one example.
type ExampleSlot struct {
	F32 []float32
	I64 []int64
}

// LRSchedule is linear warmup from 0 to Peak over Warmup steps, then a
// cosine decay to Min at step Total (constant Min after).
type LRSchedule struct {
	Peak, Min     float64
	Warmup, Total int
}

// Validate reports a schedule that cannot be followed.
func (s LRSchedule) Validate() error {
	if s.Peak <= 0 || s.Min < 0 || s.Min > s.Peak || s.Warmup < 0 || s.Total < 1 {
		return fmt.Errorf("onnxexport: lr schedule: %w: peak %v, min %v, warmup %d, total %d", ErrArgument, s.Peak, s.Min, s.Warmup, s.Total)
	}
	return nil
}

// At returns the learning rate of 1-based step.
func (s LRSchedule) At(step int) float64 {
	if step <= s.Warmup {
		return s.Peak * float64(step) / float64(s.Warmup)
	}
	if step >= s.Total || s.Total <= s.Warmup {
		return s.Min
	}
	p := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	return s.Min + (s.Peak-s.Min)*0.5*(1+math.Cos(math.Pi*p))
}

// sampler deals shuffled indices, one epoch at a time; its state (the
// permutation and the cursor) is checkpointed with the trainer's RNG.
type sampler struct {
	perm   []int
	cursor int
}

// next returns the next example index, reshuffling at an epoch's end.
func (s *sampler) next(n int, rng *rand.Rand) int {
	if s.cursor >= len(s.perm) || len(s.perm) != n {
		s.perm = rng.Perm(n)
		s.cursor = 0
	}
	i := s.perm[s.cursor]
	s.cursor++
	return i
}
