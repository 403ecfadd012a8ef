package builtin

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/imagegen/imagegen/defaultmodel"
)

// sharedFS is a checkpoint folder made of two: the top-level folders
// named in shared come from base, everything else from top. builtin:video
// uses it to take the text encoder, tokenizer and VAE of the built-in
// image model instead of a second copy of them in the binary.
type sharedFS struct {
	top, base fs.FS
	shared    []string
}

// from returns the file system that holds name.
func (s sharedFS) from(name string) fs.FS {
	first, _, _ := strings.Cut(name, "/")
	if slices.Contains(s.shared, first) {
		return s.base
	}
	return s.top
}

// Open opens name in the file system that holds it.
func (s sharedFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name != "." {
		return s.from(name).Open(name)
	}
	info, err := fs.Stat(s.top, ".")
	if err != nil {
		return nil, err
	}
	entries, err := s.ReadDir(".")
	if err != nil {
		return nil, err
	}
	return &rootDir{info: info, entries: entries}, nil
}

// rootDir is the opened root of a sharedFS: its listing merges both.
type rootDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
}

func (d *rootDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *rootDir) Close() error               { return nil }
func (d *rootDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}

// ReadDir returns the next n entries (all that are left when n ≤ 0), as
// fs.ReadDirFile does.
func (d *rootDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.entries))
	out := d.entries[:k]
	d.entries = d.entries[k:]
	return out, nil
}

// ReadDir lists a folder; the root lists top's entries and the shared
// folders, in name order.
func (s sharedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return fs.ReadDir(s.from(name), name)
	}
	top, err := fs.ReadDir(s.top, ".")
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(top, func(e fs.DirEntry) bool { return slices.Contains(s.shared, e.Name()) })
	for _, n := range s.shared {
		info, err := fs.Stat(s.base, n)
		if err != nil {
			return nil, fmt.Errorf("builtin: shared folder %s: %w", n, err)
		}
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// withDefaultModel returns the embedded folder models/name with the
// given folders of the built-in image model (defaultmodel) added to it.
func withDefaultModel(name string, shared ...string) func() (fs.FS, error) {
	own := embedded(name)
	return func() (fs.FS, error) {
		top, err := own()
		if err != nil {
			return nil, err
		}
		for _, n := range shared {
			if _, err := fs.Stat(top, n); err == nil {
				return nil, fmt.Errorf("builtin: %s has a %s of its own and shares the default model's", name, path.Clean(n))
			}
		}
		return sharedFS{top: top, base: defaultmodel.FS(), shared: shared}, nil
	}
}

// withUNetOf returns withDefaultModel(name, shared...) whose unet/ folder
// is the embedded model from's: a model that differs from another only in
// how it is sampled (steps, guidance) ships its config, not a second copy
// of the weights.
func withUNetOf(name, from string, shared ...string) func() (fs.FS, error) {
	own, donor := withDefaultModel(name, shared...), embedded(from)
	return func() (fs.FS, error) {
		top, err := own()
		if err != nil {
			return nil, err
		}
		if _, err := fs.Stat(top, "unet"); err == nil {
			return nil, fmt.Errorf("builtin: %s has a unet of its own and shares %s's", name, from)
		}
		base, err := donor()
		if err != nil {
			return nil, err
		}
		return sharedFS{top: top, base: base, shared: []string{"unet"}}, nil
	}
}
