package schedulers

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/imagegen/imagegen/internal/conformance"
)

// refCase is the part of a refs.json text-to-image case the schedulers
// can be checked against without running a model.
type refCase struct {
	Scheduler string             `json:"scheduler"`
	Config    json.RawMessage    `json:"config"`
	Steps     int                `json:"steps"`
	Timesteps *conformance.Array `json:"timesteps"`
}

// TestReferenceTimesteps rebuilds the scheduler of each reference run from
// the config diffusers used and compares its timesteps exactly.
func TestReferenceTimesteps(t *testing.T) {
	for _, name := range []string{"sd1/euler", "sd1/ddim", "sd1/dpmpp2m", "sd1lcm/lcm4_g8"} {
		t.Run(name, func(t *testing.T) {
			var rc refCase
			conformance.Case(t, name, &rc)
			if rc.Timesteps == nil {
				t.Fatalf("case %s has no timesteps", name)
			}
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
			if err := s.SetTimesteps(TimestepParams{Steps: rc.Steps}); err != nil {
				t.Fatalf("SetTimesteps: %v", err)
			}
			assertSame(t, "timesteps", s.Timesteps(), rc.Timesteps.Data)
		})
	}
}

// TestLoadCheckpointConfig loads the fixtures' scheduler_config.json files
// from disk, with and without switching class.
func TestLoadCheckpointConfig(t *testing.T) {
	var ddimRef, lcmRef refCase
	conformance.Case(t, "sd1/ddim", &ddimRef)
	conformance.Case(t, "sd1lcm/lcm4_g8", &lcmRef)
	sd1 := filepath.Join(conformance.Dir(t, "sd1-tiny"), "scheduler", "scheduler_config.json")
	lcmDir := filepath.Join(conformance.Dir(t, "sd1-lcm-tiny"), "scheduler", "scheduler_config.json")
	tests := []struct {
		name, path, class string
		steps             int
		want              []float64
	}{
		{"sd1 as DDIM", sd1, "DDIM", 10, ddimRef.Timesteps.Data},
		{"sd1 as DDIMScheduler", sd1, "ddimscheduler", 10, ddimRef.Timesteps.Data},
		{"sd1-lcm as its own class", lcmDir, "", 4, lcmRef.Timesteps.Data},
		// The file writes timestep_spacing "leading", and from_config keeps
		// it: 901, 801, ... (the reference run used an in-memory config
		// in which the key was a default, hence linspace there).
		{"sd1 as Euler keeps leading", sd1, "Euler", 10, []float64{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}},
		{"sd1 as Euler with override", sd1, "Euler", 10, []float64{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var overrides []string
			if tc.name == "sd1 as Euler with override" {
				overrides = []string{"timestep_spacing=linspace"}
			}
			s, err := Load(tc.path, tc.class, overrides)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := s.SetTimesteps(TimestepParams{Steps: tc.steps}); err != nil {
				t.Fatalf("SetTimesteps: %v", err)
			}
			assertSame(t, "timesteps", s.Timesteps(), tc.want)
		})
	}
}

func assertSame(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d values %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s[%d]: got %v, want %v (all: %v)", what, i, got[i], want[i], got)
		}
	}
}
