package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/defaultmodel"
	"github.com/imagegen/imagegen/modelreg"
)

// resolveModelOrDefault is resolveModel, except that no --model picks the
// built-in shapes model (the models.yaml entry "default", written into the
// user's cache on first use); the name "default" does too unless a folder
// of that name exists.
func resolveModelOrDefault(c *cli.Context, nameOrPath string) (string, *modelreg.Model, error) {
	if nameOrPath != "" {
		return resolveModel(c, nameOrPath)
	}
	reg, err := registry(c)
	if err != nil {
		return "", nil, err
	}
	m, err := reg.ByName(defaultmodel.Name)
	if err != nil || !m.IsBuiltin() {
		// A models.yaml that renames "default" to something else still
		// leaves the embedded model as the fallback.
		m = modelreg.Model{Name: defaultmodel.Name, Source: modelreg.BuiltinScheme + defaultmodel.Name, Family: "sd1", Defaults: defaultmodel.Defaults()}
	}
	dir, err := builtinDir(m)
	return dir, &m, err
}

// resolveBuiltinRef resolves a "builtin:NAME" --model value: the
// models.yaml entry whose source it is when there is one (for its
// defaults), else the bare built-in model.
func resolveBuiltinRef(c *cli.Context, ref string) (string, *modelreg.Model, error) {
	if _, err := builtin.ByName(ref); err != nil {
		return "", nil, err
	}
	m := modelreg.Model{Name: ref, Source: ref}
	if reg, err := registry(c); err == nil {
		for _, e := range reg.Models() {
			if e.Source == ref {
				m = e
				break
			}
		}
	}
	dir, err := builtinDir(m)
	return dir, &m, err
}

// builtinDir writes the embedded model of a builtin: source into the cache
// (once) and returns its folder.
func builtinDir(m modelreg.Model) (string, error) {
	name := strings.TrimPrefix(m.Source, modelreg.BuiltinScheme)
	b, err := builtin.ByName(name)
	if err != nil {
		if m.File != "" {
			return "", fmt.Errorf("model %q (from %s): %w", m.Name, m.File, err)
		}
		return "", err
	}
	dir, err := b.Dir("")
	if err != nil {
		return "", fmt.Errorf("built-in model %s: %w", name, err)
	}
	return dir, nil
}
