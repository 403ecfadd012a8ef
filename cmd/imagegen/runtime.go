package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen"
	"github.com/imagegen/imagegen/hub"
	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/ortlib"
)

// initRuntime finds (or installs) ONNX Runtime and loads it.
func initRuntime(c *cli.Context) error {
	path, err := ortlib.Ensure(c.Context, ortOptions(c))
	if err != nil {
		return err
	}
	return ort.Init(path)
}

// registry loads the models.yaml files: ./models.yaml, the user's, then
// every --models file.
func registry(c *cli.Context) (*modelreg.Registry, error) {
	reg, err := modelreg.Load(c.StringSlice("models")...)
	if err != nil {
		return nil, err
	}
	builtin, err := modelreg.Parse("built-in models.yaml", imagegen.ModelsYAML)
	if err != nil {
		return nil, err
	}
	reg.Add(builtin...)
	return reg, nil
}

// resolveModel turns a --model value into a local checkpoint folder: an
// existing folder is used as it is, an hf:ORG/NAME[@REV][/SUB] reference is
// read from the Hugging Face cache (pulling what is missing unless
// HF_HUB_OFFLINE=1), and anything else is looked up in models.yaml. The
// registry entry is returned too when there is one, for its defaults.
func resolveModel(c *cli.Context, nameOrPath string) (string, *modelreg.Model, error) {
	if nameOrPath == "" {
		return "", nil, fmt.Errorf("no model given: pass --model with a checkpoint folder, an hf:ORG/NAME reference or a models.yaml name")
	}
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			return "", nil, fmt.Errorf("model %s is a file; pass the checkpoint folder (the one with model_index.json)", nameOrPath)
		}
		return nameOrPath, nil, nil
	}
	if looksLikePath(nameOrPath) {
		return "", nil, fmt.Errorf("model folder %s does not exist", nameOrPath)
	}
	if strings.HasPrefix(nameOrPath, hub.Scheme) {
		dir, err := resolveHub(c, nameOrPath)
		return dir, nil, err
	}
	if strings.HasPrefix(nameOrPath, modelreg.BuiltinScheme) {
		return resolveBuiltinRef(c, nameOrPath)
	}
	reg, err := registry(c)
	if err != nil {
		return "", nil, err
	}
	m, err := reg.ByName(nameOrPath)
	if err != nil {
		return "", nil, fmt.Errorf("model %q is not a folder, an hf: or builtin: reference or a models.yaml name: %w", nameOrPath, err)
	}
	if m.IsHub() {
		dir, err := resolveHub(c, m.Source)
		return dir, &m, err
	}
	if m.IsBuiltin() {
		dir, err := builtinDir(m)
		return dir, &m, err
	}
	dir := m.LocalPath()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", &m, fmt.Errorf("model %q (from %s): source folder %s does not exist", m.Name, m.File, dir)
	}
	return dir, &m, nil
}

func resolveHub(c *cli.Context, s string) (string, error) {
	ref, err := hub.ParseRef(s)
	if err != nil {
		return "", err
	}
	cl := hub.NewClientFromEnv()
	// Repositories often hold PyTorch weights beside the ONNX export; pull
	// only what the pipelines read.
	cl.ResolvePull = hub.ONNXOnly()
	if showProgress(c) {
		cl.ProgressBars = os.Stderr
	}
	return cl.Resolve(c.Context, ref)
}

// cachedHub returns the cached snapshot folder of an hf: source without
// touching the network.
func cachedHub(s string) (string, error) {
	ref, err := hub.ParseRef(s)
	if err != nil {
		return "", err
	}
	cl := hub.NewClientFromEnv()
	cl.Offline = true
	return cl.Resolve(context.Background(), ref)
}

// looksLikePath reports whether a --model value is meant as a path rather
// than a registry name or hf: reference.
func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") ||
		(strings.Contains(s, string(os.PathSeparator)) && !strings.HasPrefix(s, hub.Scheme))
}
