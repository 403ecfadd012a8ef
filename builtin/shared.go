package builtin

import (
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// sharedFS is a checkpoint folder that takes some of its component
// folders from another model's: a distilled model (builtin:lcm) ships
// only its own UNet and scheduler and runs with its teacher's text
// encoder, tokenizer and VAE, so the binary holds those once.
type sharedFS struct {
	own, from fs.FS
	shared    []string // top-level folders read from from
}

// withShared returns own with the top-level folders shared taken from
// from.
func withShared(own, from fs.FS, shared ...string) fs.FS {
	return sharedFS{own: own, from: from, shared: shared}
}

func (s sharedFS) pick(name string) fs.FS {
	top, _, _ := strings.Cut(name, "/")
	if slices.Contains(s.shared, top) {
		return s.from
	}
	return s.own
}

// Open opens name in the folder it comes from; the root lists both
// models' entries.
func (s sharedFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name != "." {
		return s.pick(name).Open(name)
	}
	f, err := s.own.Open(".")
	if err != nil {
		return nil, err
	}
	entries, err := s.ReadDir(".")
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rootDir{File: f, entries: entries}, nil
}

// rootDir is the shared folder's root: the own model's root, listing the
// merged entries.
type rootDir struct {
	fs.File
	entries []fs.DirEntry
}

// ReadDir returns the next n entries (all that are left for n ≤ 0), as
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
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

// ReadDir lists name; the root lists the model's own entries and the
// shared folders.
func (s sharedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if name != "." {
		return fs.ReadDir(s.pick(name), name)
	}
	own, err := fs.ReadDir(s.own, ".")
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(own, func(e fs.DirEntry) bool { return slices.Contains(s.shared, e.Name()) })
	for _, d := range s.shared {
		info, err := fs.Stat(s.from, d)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: path.Join(name, d), Err: err}
		}
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}
