package schedulers

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// testdata/part2_refs.json comes from testdata/gen_part2_refs.py: the
// set_timesteps and step formulas of diffusers' Heun, DPM-Solver multistep,
// UniPC and flow-match Euler schedulers restated in numpy (torch float32
// arithmetic emulated in numpy float32) with scipy for the beta quantiles.

type p2Schedule struct {
	Class        string                     `json:"class"`
	Name         string                     `json:"name"`
	Config       map[string]json.RawMessage `json:"config"`
	Steps        int                        `json:"steps"`
	Mu           *float64                   `json:"mu"`
	CustomSigmas []float64                  `json:"custom_sigmas"`
	Timesteps    []float64                  `json:"timesteps"`
	Sigmas       []float64                  `json:"sigmas"`
}

type p2StepRun struct {
	Class  string                     `json:"class"`
	Name   string                     `json:"name"`
	Config map[string]json.RawMessage `json:"config"`
	Steps  int                        `json:"steps"`
	Size   int                        `json:"size"`
	Batch  int                        `json:"batch"`
	Mu     *float64                   `json:"mu"`
	States [][]float64                `json:"states"`
}

type p2Refs struct {
	Schedules []p2Schedule `json:"schedules"`
	BetaPPF   []struct {
		P, A, B, X float64
	} `json:"beta_ppf"`
	Steps []p2StepRun `json:"steps"`
}

var (
	p2Once sync.Once
	p2Data p2Refs
	p2Err  error
)

func loadP2Refs(t testing.TB) *p2Refs {
	t.Helper()
	p2Once.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "part2_refs.json"))
		if err != nil {
			p2Err = err
			return
		}
		p2Err = json.Unmarshal(b, &p2Data)
	})
	if p2Err != nil {
		t.Fatalf("testdata/part2_refs.json: %v", p2Err)
	}
	return &p2Data
}

// p2Config is the class defaults with the case's keys applied as overrides,
// in a fixed order.
func p2Config(t testing.TB, class string, keys map[string]json.RawMessage) *Config {
	t.Helper()
	cfg, err := DefaultConfig(class)
	if err != nil {
		t.Fatalf("DefaultConfig(%s): %v", class, err)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	over := make([]string, 0, len(names))
	for _, k := range names {
		over = append(over, k+"="+string(keys[k]))
	}
	if err := cfg.ApplyOverrides(over); err != nil {
		t.Fatalf("ApplyOverrides(%v): %v", over, err)
	}
	return cfg
}

// p2Close reports whether got is within rel relative (and abs absolute)
// tolerance of want; infinities and NaNs must match exactly.
func p2Close(got, want, rel, abs float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= abs+rel*math.Abs(want)
}

func p2Compare(t *testing.T, what string, got, want []float64, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if !p2Close(got[i], want[i], rel, abs) {
			t.Fatalf("%s[%d]: got %.10g, want %.10g (all got %v, want %v)", what, i, got[i], want[i], got, want)
		}
	}
}

// TestPart2Schedules compares timesteps and sigmas with the numpy
// restatement of diffusers' set_timesteps for every class, option and step
// count in the reference file. Integer timesteps must match exactly.
func TestPart2Schedules(t *testing.T) {
	refs := loadP2Refs(t)
	for _, c := range refs.Schedules {
		t.Run(fmt.Sprintf("%s/%s/%d", c.Class, c.Name, c.Steps), func(t *testing.T) {
			s, err := New(p2Config(t, c.Class, c.Config))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			p := TimestepParams{Steps: c.Steps, Mu: c.Mu, Sigmas: c.CustomSigmas}
			if err := s.SetTimesteps(p); err != nil {
				t.Fatalf("SetTimesteps: %v", err)
			}
			tsTol := 0.0
			if c.Class == ClassHeun || c.Class == ClassFlowMatchEulerDiscrete {
				// float32 timesteps, some derived from sigmas.
				tsTol = 2e-6
			}
			p2Compare(t, "timesteps", s.Timesteps(), c.Timesteps, tsTol, 0)
			p2Compare(t, "sigmas", sigmasOf(t, s), c.Sigmas, 2e-6, 1e-9)
		})
	}
}

// sigmasOf returns a part-2 scheduler's sigma table.
func sigmasOf(t testing.TB, s Scheduler) []float64 {
	t.Helper()
	switch v := s.(type) {
	case *dpmSolverMultistep:
		return v.sigmas
	case *uniPCMultistep:
		return v.sigmas
	case *heunDiscrete:
		return v.sigmas
	case *flowMatchEulerDiscrete:
		return v.sigmas
	}
	t.Fatalf("no sigma table for %T", s)
	return nil
}

// p2Pattern is the deterministic stand-in for model outputs and noise that
// gen_part2_refs.py uses: values in [-1, 1] in steps of 0.001.
func p2Pattern(dst []float32, i, salt int) {
	for k := range dst {
		v := (k*7919 + i*104729 + salt*15485863) % 2001
		dst[k] = float32(float64(v-1000) / 1000)
	}
}

// p2Noise replays p2Pattern with salt 3 for the step being taken.
type p2Noise struct{ step int }

func (n *p2Noise) Randn(dst []float32) { p2Pattern(dst, n.step, 3) }

// TestPart2StepRuns runs whole sampling loops on patterned model outputs
// and compares every intermediate sample with diffusers' step math.
func TestPart2StepRuns(t *testing.T) {
	refs := loadP2Refs(t)
	for _, c := range refs.Steps {
		t.Run(fmt.Sprintf("%s/%s/%d", c.Class, c.Name, c.Steps), func(t *testing.T) {
			s, err := New(p2Config(t, c.Class, c.Config))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := s.SetTimesteps(TimestepParams{Steps: c.Steps, Mu: c.Mu, Batch: c.Batch}); err != nil {
				t.Fatalf("SetTimesteps: %v", err)
			}
			x := make([]float32, c.Size)
			out := make([]float32, c.Size)
			p2Pattern(x, 0, 1)
			if c.Class != ClassFlowMatchEulerDiscrete {
				s0 := float32(sigmasOf(t, s)[0])
				for k := range x {
					x[k] *= s0
				}
			}
			if len(s.Timesteps()) != len(c.States) {
				t.Fatalf("%d evaluations, want %d", len(s.Timesteps()), len(c.States))
			}
			noise := &p2Noise{}
			for i := range s.Timesteps() {
				p2Pattern(out, i, 2)
				noise.step = i
				if err := s.Step(x, out, x, i, noise); err != nil {
					t.Fatalf("Step %d: %v", i, err)
				}
				want := c.States[i]
				scale := 0.0
				for _, v := range want {
					scale = math.Max(scale, math.Abs(v))
				}
				for k, v := range want {
					if !p2Close(float64(x[k]), v, 1e-4, 2e-5*scale+1e-6) {
						t.Fatalf("step %d element %d: got %.8g, want %.8g (scale %.3g)", i, k, x[k], v, scale)
					}
				}
			}
		})
	}
}

// TestBetaQuantile checks the inverse regularized incomplete beta function
// behind use_beta_sigmas against scipy.stats.beta.ppf.
func TestBetaQuantile(t *testing.T) {
	for _, c := range loadP2Refs(t).BetaPPF {
		t.Run(fmt.Sprintf("a=%v,b=%v,p=%v", c.A, c.B, c.P), func(t *testing.T) {
			got := betaPPF(c.P, c.A, c.B)
			if !p2Close(got, c.X, 1e-9, 1e-15) {
				t.Errorf("betaPPF(%v, %v, %v) = %.17g, want %.17g", c.P, c.A, c.B, got, c.X)
			}
		})
	}
}
