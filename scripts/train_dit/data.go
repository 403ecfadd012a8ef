package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/imagegen/imagegen/internal/latentset"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// flowInputs are the per-example inputs of the training graph
// (onnxexport.NewDiTLoss), in the order the datasets fill them.
var flowInputs = []string{"sample", "timestep", "encoder_hidden_states", "target"}

// timeDist is how training draws σ in (0, 1).
type timeDist int

const (
	// logitNormal is SD3's σ = sigmoid(n), n ~ N(0, 1): more weight on the
	// middle of the path, where the velocity is hardest to predict.
	logitNormal timeDist = iota
	// uniform is σ ~ U(0, 1), as Liu et al. train a reflow.
	uniform
)

func parseTimeDist(s string) (timeDist, error) {
	switch s {
	case "logit-normal":
		return logitNormal, nil
	case "uniform":
		return uniform, nil
	}
	return 0, fmt.Errorf("-t %q: want logit-normal or uniform", s)
}

func (d timeDist) draw(rng *rand.Rand) float64 {
	if d == uniform {
		return rng.Float64()
	}
	return 1 / (1 + math.Exp(-rng.NormFloat64()))
}

// flowExamples draws rectified-flow examples (Liu et al. 2022; Esser et al.
// 2024): an end point x0 (a training latent, or a reflow pair's sample), a
// start point ε (fresh noise, or the pair's noise), σ from dist, and the
// straight path's point x_σ = (1−σ)·x0 + σ·ε with its velocity ε − x0 as
// the target, at timestep 1000σ (FlowMatchEulerDiscreteScheduler's). With
// probability uncond the caption is replaced by "" (for classifier-free
// guidance).
type flowExamples struct {
	set    *latentset.Set
	pairs  *pairSet // nil: x0 from set, fresh noise
	dist   timeDist
	uncond float64
}

func (e *flowExamples) Len() int {
	if e.pairs != nil {
		return e.pairs.n
	}
	return e.set.N
}

func (e *flowExamples) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	s := e.set
	hd := s.HiddenLen * s.Hidden
	if len(dst) != len(flowInputs) || len(dst[0].F32) != s.Per || len(dst[1].F32) != 1 || len(dst[2].F32) != hd || len(dst[3].F32) != s.Per {
		return fmt.Errorf("flow examples: unexpected batch layout")
	}
	caption := i
	var x0, eps []float32
	if e.pairs != nil {
		x0, eps = e.pairs.sample(i), e.pairs.noise(i)
		caption = e.pairs.caption[i]
	} else {
		x0 = s.Latents[i*s.Per : (i+1)*s.Per]
	}
	sigma := e.dist.draw(rng)
	for q, v := range x0 {
		n := float64(0)
		if eps != nil {
			n = float64(eps[q])
		} else {
			n = rng.NormFloat64()
		}
		dst[0].F32[q] = float32((1-sigma)*float64(v) + sigma*n)
		dst[3].F32[q] = float32(n - float64(v))
	}
	dst[1].F32[0] = float32(sigma * numTrainTimesteps)
	if rng.Float64() < e.uncond {
		copy(dst[2].F32, s.EmptyStates)
	} else {
		copy(dst[2].F32, s.States[caption*hd:(caption+1)*hd])
	}
	return nil
}

// numTrainTimesteps maps σ to the timestep the network and
// FlowMatchEulerDiscreteScheduler use (1000σ).
const numTrainTimesteps = 1000
