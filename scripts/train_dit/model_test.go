package main

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imagegen/imagegen/internal/latentset"
	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

func testSet() *latentset.Set {
	set := &latentset.Set{N: 2, Per: 3, HiddenLen: 2, Hidden: 2,
		Latents: []float32{1, 2, 3, -1, -2, -3}, States: []float32{1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0}}
	set.EmptyStates = set.States[8:]
	return set
}

func slots() []onnxexport.ExampleSlot {
	sizes := []int{3, 1, 4, 3}
	dst := make([]onnxexport.ExampleSlot, len(sizes))
	for i, n := range sizes {
		dst[i].F32 = make([]float32, n)
	}
	return dst
}

// TestFlowExamples checks the rectified-flow examples: the sample lies on
// the straight line x_σ = (1−σ)·x0 + σ·ε at timestep 1000σ, the target is
// ε − x0 (so sample + (1−σ)·target = ε and sample − σ·target = x0), and
// the caption is "" about as often as asked.
func TestFlowExamples(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dist   timeDist
		uncond float64
	}{{"logit-normal", logitNormal, 0.1}, {"uniform", uniform, 0.5}} {
		t.Run(tc.name, func(t *testing.T) {
			set := testSet()
			e := &flowExamples{set: set, dist: tc.dist, uncond: tc.uncond}
			dst := slots()
			rng := rand.New(rand.NewPCG(1, 2))
			empty, middle := 0, 0
			const n = 4000
			for range n {
				if err := e.Example(1, rng, dst); err != nil {
					t.Fatal(err)
				}
				sigma := float64(dst[1].F32[0]) / numTrainTimesteps
				if !(sigma > 0 && sigma < 1) {
					t.Fatalf("σ %g outside (0, 1)", sigma)
				}
				if sigma > 0.25 && sigma < 0.75 {
					middle++
				}
				for q, x0 := range set.Latents[3:6] {
					x, v := float64(dst[0].F32[q]), float64(dst[3].F32[q])
					if got := x - sigma*v; math.Abs(got-float64(x0)) > 1e-4 {
						t.Fatalf("sample − σ·target = %g, want x0 %g", got, x0)
					}
				}
				switch dst[2].F32[0] {
				case 0:
					empty++
				case 2:
				default:
					t.Fatalf("caption states %v: neither picture 1's nor \"\"'s", dst[2].F32)
				}
			}
			if got := float64(empty) / n; math.Abs(got-tc.uncond) > 0.03 {
				t.Errorf("empty captions %.3f, want %.2f", got, tc.uncond)
			}
			// P(0.25 < σ < 0.75) is 0.5 for uniform σ, 0.73 for logit-normal.
			want := map[timeDist]float64{uniform: 0.5, logitNormal: 0.726}[tc.dist]
			if got := float64(middle) / n; math.Abs(got-want) > 0.03 {
				t.Errorf("share of σ in (0.25, 0.75) %.3f, want %.3f", got, want)
			}
		})
	}
}

// TestFlowExamplesPairs checks that a reflow example uses the pair's noise
// and sample and its caption.
func TestFlowExamplesPairs(t *testing.T) {
	set := testSet()
	pairs := &pairSet{n: 1, per: 3, noises: []float32{0.5, -0.5, 2}, points: []float32{3, 2, 1}, caption: []int{0}}
	e := &flowExamples{set: set, pairs: pairs, dist: uniform}
	dst := slots()
	if err := e.Example(0, rand.New(rand.NewPCG(3, 4)), dst); err != nil {
		t.Fatal(err)
	}
	sigma := float32(dst[1].F32[0]) / numTrainTimesteps
	for q := range 3 {
		if got, want := dst[3].F32[q], pairs.noises[q]-pairs.points[q]; math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("target[%d] %g, want ε − x0 = %g", q, got, want)
		}
		if got, want := dst[0].F32[q], (1-sigma)*pairs.points[q]+sigma*pairs.noises[q]; math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("sample[%d] %g, want %g", q, got, want)
		}
	}
	if dst[2].F32[0] != 1 {
		t.Errorf("caption states %v, want picture 0's", dst[2].F32)
	}
}

// TestStraightness checks the Monte Carlo estimate against flows whose
// value is known: the pairs' own straight velocity gives 0, a velocity off
// by a constant c gives c², and the zero velocity gives the mean of
// (ε − x0)².
func TestStraightness(t *testing.T) {
	pairs := &pairSet{n: 2, per: 2, noises: []float32{1, -1, 2, 0}, points: []float32{0, 1, 1, 1}, caption: []int{0, 1}}
	// straight returns ε − x0 from x_σ alone: for these pairs x_σ =
	// x0 + σ(ε − x0), so the velocity is (x_σ − x0)/σ given the pair.
	straight := func(off float32) velocityFunc {
		return func(_ context.Context, x []float32, t float32, captions []int, v []float32) error {
			sigma := t / numTrainTimesteps
			for k, c := range captions {
				for q := range 2 {
					x0 := pairs.points[c*2+q]
					v[k*2+q] = (x[k*2+q]-x0)/sigma + off
				}
			}
			return nil
		}
	}
	zero := func(_ context.Context, _ []float32, _ float32, _ []int, v []float32) error { clear(v); return nil }
	for _, tc := range []struct {
		name string
		v    velocityFunc
		want float64
	}{{"straight", straight(0), 0}, {"offset", straight(0.5), 0.25}, {"zero", zero, (1 + 4 + 1 + 1) / 4.0}} {
		got, err := straightness(context.Background(), tc.v, pairs, 20, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-3 {
			t.Errorf("%s: S = %g, want %g", tc.name, got, tc.want)
		}
	}
}
