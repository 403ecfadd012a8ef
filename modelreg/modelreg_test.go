package modelreg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, yaml, err string
		n               int
	}{
		{"empty", "", "", 0},
		{"one", "models:\n  - name: a\n    source: ./a\n    defaults: {steps: 4, guidance: 0}\n", "", 1},
		{"no name", "models:\n  - source: ./a\n", "has no name", 0},
		{"no source", "models:\n  - name: a\n", "has no source", 0},
		{"twice", "models:\n  - {name: a, source: x}\n  - {name: a, source: y}\n", "defined twice", 0},
		{"unknown key", "models:\n  - {name: a, source: x, colour: red}\n", "colour", 0},
		{"negative", "models:\n  - {name: a, source: x, defaults: {steps: -1}}\n", "negative", 0},
		{"not yaml", "models: [", "models.yaml", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Parse("models.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || len(ms) != tc.n {
				t.Fatalf("got %d models, %v; want %d", len(ms), err, tc.n)
			}
		})
	}
	ms, _ := Parse("/x/models.yaml", []byte("models:\n  - {name: a, source: ./a, defaults: {guidance: 0}}\n  - {name: b, source: 'hf:org/name@rev'}\n"))
	if got := ms[0].LocalPath(); got != "/x/a" {
		t.Errorf("LocalPath: got %q, want /x/a", got)
	}
	if ms[0].Defaults.Guidance == nil || *ms[0].Defaults.Guidance != 0 {
		t.Errorf("guidance 0 must be kept as an explicit default")
	}
	if !ms[1].IsHub() || ms[1].LocalPath() != "" {
		t.Errorf("hf: source not recognized")
	}
}

func TestLoadOverrides(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.WriteFile("models.yaml", []byte("models:\n  - {name: a, source: ./one}\n  - {name: b, source: ./b}\n"), 0o644)
	extra := filepath.Join(dir, "extra.yaml")
	os.WriteFile(extra, []byte("models:\n  - {name: a, source: ./two}\n"), 0o644)
	r, err := Load(extra)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.ByName("a")
	if err != nil || filepath.Base(a.Source) != "two" {
		t.Fatalf("a: got %+v, %v; want the later file's entry", a, err)
	}
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Errorf("names: got %s", got)
	}
	r.Add(Model{Name: "a", Source: "builtin"}, Model{Name: "c", Source: "builtin"})
	if a, _ := r.ByName("a"); a.Source == "builtin" {
		t.Error("Add replaced a file entry")
	}
	if _, err := r.ByName("zzz"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown name: got %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing explicit file must be an error")
	}
}

func TestLoRAPaths(t *testing.T) {
	ms, err := Parse("/x/models.yaml", []byte("models:\n  - {name: a, source: ./a, loras: ['styles/ink.safetensors:0.6', '/abs/b.safetensors']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := ms[0].LoRAPaths()
	want := []string{"/x/styles/ink.safetensors:0.6", "/abs/b.safetensors"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("LoRAPaths = %v, want %v", got, want)
	}
}
