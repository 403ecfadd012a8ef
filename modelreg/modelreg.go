package modelreg

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults are generation settings a model entry suggests. Zero values mean
// "no suggestion".
type Defaults struct {
	Scheduler string   `yaml:"scheduler,omitempty" json:"scheduler,omitempty"`
	Steps     int      `yaml:"steps,omitempty" json:"steps,omitempty"`
	Guidance  *float64 `yaml:"guidance,omitempty" json:"guidance,omitempty"`
	Width     int      `yaml:"width,omitempty" json:"width,omitempty"`
	Height    int      `yaml:"height,omitempty" json:"height,omitempty"`
}

// Model is one registry entry.
type Model struct {
	Name        string   `yaml:"name" json:"name"`
	Source      string   `yaml:"source" json:"source"`
	Family      string   `yaml:"family,omitempty" json:"family,omitempty"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Verified    *bool    `yaml:"verified,omitempty" json:"verified,omitempty"`
	Defaults    Defaults `yaml:"defaults,omitempty" json:"defaults"`
	// LoRAs are LoRA files ("FILE[:SCALE]", relative paths against the
	// registry file's folder) merged into the model whenever the entry is
	// used, before any the request adds.
	LoRAs []string `yaml:"loras,omitempty" json:"loras,omitempty"`
	// File is the registry file the entry came from.
	File string `yaml:"-" json:"file"`
}

// IsHub reports whether the source is a Hugging Face Hub reference.
func (m *Model) IsHub() bool { return strings.HasPrefix(m.Source, "hf:") }

// BuiltinScheme prefixes the source of a model embedded in the binary
// ("builtin:default"); the program that embeds it resolves the name.
const BuiltinScheme = "builtin:"

// IsBuiltin reports whether the source names a model embedded in the
// binary.
func (m *Model) IsBuiltin() bool { return strings.HasPrefix(m.Source, BuiltinScheme) }

// LocalPath returns the source as a folder path, resolved against the
// registry file's folder when relative. It is "" for hub and built-in
// sources.
func (m *Model) LocalPath() string {
	if m.IsHub() || m.IsBuiltin() || m.Source == "" {
		return ""
	}
	p := m.Source
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if !filepath.IsAbs(p) && m.File != "" {
		p = filepath.Join(filepath.Dir(m.File), p)
	}
	return p
}

// LoRAPaths returns LoRAs with relative file paths resolved against the
// registry file's folder (a ":SCALE" suffix is kept).
func (m *Model) LoRAPaths() []string {
	out := make([]string, len(m.LoRAs))
	for i, l := range m.LoRAs {
		if strings.HasPrefix(l, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				l = filepath.Join(home, l[2:])
			}
		}
		if !filepath.IsAbs(l) && m.File != "" {
			l = filepath.Join(filepath.Dir(m.File), l)
		}
		out[i] = l
	}
	return out
}

type file struct {
	Models []Model `yaml:"models"`
}

// Registry is a merged, read-only set of models.
type Registry struct {
	models map[string]Model
	files  []string
}

// ErrUnknown is returned by ByName for a name no registry defines.
var ErrUnknown = errors.New("modelreg: unknown model")

// DefaultFiles returns the registry files read by default, in order:
// ./models.yaml and the user config file. Missing files are skipped by Load.
func DefaultFiles() []string {
	files := []string{"models.yaml"}
	if dir, err := os.UserConfigDir(); err == nil {
		files = append(files, filepath.Join(dir, "imagegen", "models.yaml"))
	}
	return files
}

// Load reads the default files and then extra, later entries replacing
// earlier ones with the same name. Default files that do not exist are
// skipped; an extra file that does not exist is an error.
func Load(extra ...string) (*Registry, error) {
	r := &Registry{models: map[string]Model{}}
	for _, f := range DefaultFiles() {
		if err := r.read(f, true); err != nil {
			return nil, err
		}
	}
	for _, f := range extra {
		if err := r.read(f, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Parse reads one registry from data; name is used in errors and to
// resolve relative sources.
func Parse(name string, data []byte) ([]Model, error) {
	var f file
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("modelreg: %s: %w", name, err)
	}
	seen := map[string]bool{}
	for i := range f.Models {
		m := &f.Models[i]
		m.File = name
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("modelreg: %s: entry %d has no name", name, i+1)
		case m.Source == "":
			return nil, fmt.Errorf("modelreg: %s: model %q has no source", name, m.Name)
		case seen[m.Name]:
			return nil, fmt.Errorf("modelreg: %s: model %q is defined twice", name, m.Name)
		case m.Defaults.Steps < 0 || m.Defaults.Width < 0 || m.Defaults.Height < 0:
			return nil, fmt.Errorf("modelreg: %s: model %q has negative defaults", name, m.Name)
		}
		seen[m.Name] = true
	}
	return f.Models, nil
}

func (r *Registry) read(path string, optional bool) error {
	data, err := os.ReadFile(path)
	if optional && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("modelreg: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	models, err := Parse(abs, data)
	if err != nil {
		return err
	}
	r.files = append(r.files, abs)
	for _, m := range models {
		r.models[m.Name] = m
	}
	return nil
}

// Add inserts models (for example built-in ones) that files may override:
// an entry already present is kept.
func (r *Registry) Add(models ...Model) {
	for _, m := range models {
		if _, ok := r.models[m.Name]; !ok {
			r.models[m.Name] = m
		}
	}
}

// ByName returns the model called name.
func (r *Registry) ByName(name string) (Model, error) {
	m, ok := r.models[name]
	if !ok {
		return Model{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(r.Names(), ", "))
	}
	return m, nil
}

// Names returns the model names in order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.models))
	for n := range r.models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Models returns every model, sorted by name.
func (r *Registry) Models() []Model {
	var out []Model
	for _, n := range r.Names() {
		out = append(out, r.models[n])
	}
	return out
}

// Files returns the registry files that were read, in order.
func (r *Registry) Files() []string { return r.files }
