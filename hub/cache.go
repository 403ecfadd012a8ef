package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// repoCache is one repository's folder in the cache.
type repoCache struct {
	root  string // the cache root holding models--* folders
	ref   Ref
	dir   string // root/models--ORG--NAME
	locks string // root/.locks/models--ORG--NAME
}

func newRepoCache(root string, ref Ref) repoCache {
	f := ref.folderName()
	return repoCache{root: root, ref: ref, dir: filepath.Join(root, f), locks: filepath.Join(root, ".locks", f)}
}

func (c repoCache) blobPath(etag string) string { return filepath.Join(c.dir, "blobs", etag) }

func (c repoCache) snapshotDir(commit string) string {
	return filepath.Join(c.dir, "snapshots", commit)
}

func (c repoCache) refPath(revision string) string {
	return filepath.Join(c.dir, "refs", filepath.FromSlash(revision))
}

// commitFor returns the commit hash a revision points to in the cache: the
// revision itself when it is a commit hash, else the content of
// refs/<revision>.
func (c repoCache) commitFor(revision string) (string, error) {
	if isCommitHash(revision) {
		return revision, nil
	}
	b, err := os.ReadFile(c.refPath(revision))
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(b))
	if !isCommitHash(commit) {
		return "", fmt.Errorf("hub: %s holds %q, not a commit hash", c.refPath(revision), commit)
	}
	return commit, nil
}

// cachedSnapshot returns the snapshot folder of revision, or an error
// wrapping ErrNotCached.
func (c repoCache) cachedSnapshot(revision string) (string, error) {
	commit, err := c.commitFor(revision)
	if err != nil {
		return "", fmt.Errorf("%w: %s at %s (in %s): %v", ErrNotCached, c.ref.Repo, revision, c.root, err)
	}
	dir := c.snapshotDir(commit)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%w: %s at %s: no snapshot %s", ErrNotCached, c.ref.Repo, revision, dir)
	}
	return dir, nil
}

// writeRef records that revision points to commit, atomically.
func (c repoCache) writeRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	p := c.refPath(revision)
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hub: write ref: %w", err)
	}
	return writeFileAtomic(p, []byte(commit))
}

// link makes snapshots/<commit>/<name> a relative symlink to blobs/<etag>,
// refusing to go through a symlinked folder inside the snapshot.
func (c repoCache) link(commit, name, etag string) error {
	snap := c.snapshotDir(commit)
	pointer := filepath.Join(snap, filepath.FromSlash(name))
	if err := mkdirNoSymlink(snap, path.Dir(name)); err != nil {
		return err
	}
	target, err := filepath.Rel(filepath.Dir(pointer), c.blobPath(etag))
	if err != nil {
		return fmt.Errorf("hub: link %s: %w", name, err)
	}
	if old, err := os.Readlink(pointer); err == nil && old == target {
		return nil
	}
	if st, err := os.Lstat(pointer); err == nil && st.IsDir() {
		return fmt.Errorf("%w: %s is a folder in the snapshot", ErrUnsafePath, name)
	}
	tmp := pointer + ".tmp-link"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("hub: link %s: %w", name, err)
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: link %s: %w", name, err)
	}
	return nil
}

// hasPointer reports whether snapshots/<commit>/<name> already resolves to
// a regular file of the given size.
func (c repoCache) hasPointer(commit, name string, size int64) bool {
	st, err := os.Stat(filepath.Join(c.snapshotDir(commit), filepath.FromSlash(name)))
	return err == nil && st.Mode().IsRegular() && (size < 0 || st.Size() == size)
}

// mkdirNoSymlink creates base/rel (slash-separated) folder by folder and
// fails if any existing element is a symlink or a file, so a crafted tree
// cannot redirect writes outside base.
func mkdirNoSymlink(base, rel string) error {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if rel == "." || rel == "" {
		return nil
	}
	cur := base
	for _, part := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("hub: %w", err)
			}
		case err != nil:
			return fmt.Errorf("hub: %w", err)
		case st.Mode()&fs.ModeSymlink != 0 || !st.IsDir():
			return fmt.Errorf("%w: %s is not a plain folder", ErrUnsafePath, cur)
		}
	}
	return nil
}

// checkRelPath accepts a slash-separated relative path without ".", ".."
// or empty elements, backslashes, control characters or a leading "/".
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is absolute", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("%q contains a backslash", p)
	case len(p) >= 2 && p[1] == ':':
		return fmt.Errorf("%q has a drive letter", p)
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%q contains a control character", p)
		}
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%q has an empty, . or .. element", p)
		}
	}
	return nil
}

// checkFileName vets a file name given by the server.
func checkFileName(name string) error {
	if err := checkRelPath(name); err != nil {
		return fmt.Errorf("%w: file name: %v", ErrUnsafePath, err)
	}
	return nil
}

// checkETag vets an ETag used as a blob file name.
func checkETag(etag string) error {
	if etag == "" || len(etag) > 128 || strings.HasPrefix(etag, ".") {
		return fmt.Errorf("%w: etag %q", ErrUnsafePath, etag)
	}
	for _, c := range etag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: etag %q", ErrUnsafePath, etag)
		}
	}
	return nil
}

// isCommitHash reports whether s is a 40-digit lowercase hex git hash.
func isCommitHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// normalizeETag strips the weak prefix and quotes from an ETag header.
func normalizeETag(h string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(h), "W/"), `"`)
}

// writeFileAtomic writes data to a temporary file beside p and renames it.
func writeFileAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("hub: write %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("hub: write %s: %w", p, err)
	}
	return nil
}
