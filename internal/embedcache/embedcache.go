// Package embedcache writes a model folder embedded in the binary into the
// user's cache once, under a name that carries the hash of its content, so
// that code reading checkpoint folders from disk (package pipeline, ONNX
// Runtime) can open it, and a new binary with other weights never reads a
// stale copy.
//
// It is not a general cache: nothing is evicted, and a folder of the right
// name is trusted as complete because it is only ever renamed into place
// whole.
package embedcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Hash returns the hex SHA-256 of every regular file of fsys with its path,
// in path order.
func Hash(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		raw, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(raw))
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Dir returns cacheDir/PREFIX-HASH16 holding the files of fsys, whose
// content hash is sum, writing it on first use. The folder is written
// under a temporary name then renamed, so a folder of that name is always
// complete, and processes racing to write it agree on one copy.
// marker is a file every complete copy has (model_index.json).
func Dir(fsys fs.FS, sum, cacheDir, prefix, marker string) (string, error) {
	dir := filepath.Join(cacheDir, prefix+sum[:16])
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, "."+prefix+"*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := writeTree(fsys, tmp); err != nil {
		return "", fmt.Errorf("write %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have renamed its copy into place first.
		if _, serr := os.Stat(filepath.Join(dir, marker)); serr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// writeTree copies every file of fsys under dst.
func writeTree(fsys fs.FS, dst string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, raw, 0o644)
	})
}
