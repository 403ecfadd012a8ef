package schedulers

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// p2RefCase is the scheduler side of a refs.json text-to-image run.
type p2RefCase struct {
	Scheduler string             `json:"scheduler"`
	Config    json.RawMessage    `json:"config"`
	Steps     int                `json:"steps"`
	Height    int                `json:"height"`
	Width     int                `json:"width"`
	Timesteps *conformance.Array `json:"timesteps"`
	Sigmas    *conformance.Array `json:"sigmas"`
}

// TestPart2Conformance rebuilds the schedules of the reference pipeline
// runs: SD 1.x with DPM++ 2M (timesteps), SD3 with flow-match Euler and
// Flux with dynamic shifting (sigmas), within 1e-6.
func TestPart2Conformance(t *testing.T) {
	tests := []struct {
		name string
		// flux: the pipeline passes sigmas = linspace(1, 1/steps, steps)
		// and mu from the packed image sequence length.
		flux bool
	}{
		{name: "sd1/dpmpp2m"},
		{name: "sd3/fm_euler"},
		{name: "flux/fm_dyn_g3p5", flux: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rc p2RefCase
			conformance.Case(t, tc.name, &rc)
			cfg, err := ParseConfig(rc.Config, "")
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if cfg.ClassName != rc.Scheduler {
				t.Fatalf("class %s, want %s", cfg.ClassName, rc.Scheduler)
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			p := TimestepParams{Steps: rc.Steps}
			if tc.flux {
				h, w := rc.Height, rc.Width
				if h == 0 {
					h, w = 32, 32
				}
				// One token per 2x2 latent patch; the tiny checkpoint's VAE
				// downsamples by 2, not 8.
				f := p2VAEScale(t, "flux-tiny")
				mu := CalculateShift((h/(2*f))*(w/(2*f)), cfg.BaseImageSeqLen, cfg.MaxImageSeqLen, cfg.BaseShift, cfg.MaxShift)
				p.Mu = &mu
				p.Sigmas = make([]float64, rc.Steps)
				for i := range p.Sigmas {
					p.Sigmas[i] = npLinspaceAt(1, 1/float64(rc.Steps), rc.Steps, i)
				}
			}
			if err := s.SetTimesteps(p); err != nil {
				t.Fatalf("SetTimesteps: %v", err)
			}
			checked := false
			if rc.Timesteps != nil {
				p2CompareAbs(t, "timesteps", s.Timesteps(), rc.Timesteps.Data, 1e-6)
				checked = true
			}
			if rc.Sigmas != nil {
				p2CompareAbs(t, "sigmas", sigmasOf(t, s), rc.Sigmas.Data, 1e-6)
				checked = true
			}
			if !checked {
				t.Fatalf("case %s has neither timesteps nor sigmas", tc.name)
			}
		})
	}
}

func p2CompareAbs(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

// p2VAEScale is diffusers' vae_scale_factor of a fixture checkpoint:
// 2^(len(block_out_channels)-1) from its VAE decoder config.
func p2VAEScale(t *testing.T, checkpoint string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance.Dir(t, checkpoint), "vae_decoder", "config.json"))
	if err != nil {
		t.Fatalf("vae config: %v", err)
	}
	var vc struct {
		BlockOutChannels []int `json:"block_out_channels"`
	}
	if err := json.Unmarshal(b, &vc); err != nil || len(vc.BlockOutChannels) == 0 {
		t.Fatalf("vae config: block_out_channels missing (%v)", err)
	}
	return 1 << (len(vc.BlockOutChannels) - 1)
}
