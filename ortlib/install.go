package ortlib

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Attempt is one source Install tried and why it failed.
type Attempt struct {
	Source string // what was tried, e.g. "npm onnxruntime-node@1.29.0" or a URL
	Err    error
}

// InstallError is returned by Install and Ensure when every source failed.
// errors.Is and errors.As see through it to each attempt's error.
type InstallError struct {
	Attempts []Attempt
	Target   string // where the library would have been installed
}

// Error lists every attempt on one line and says how to point imagegen at
// a library by hand.
func (e *InstallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ortlib: could not install ONNX Runtime %s into %s; tried", Version, e.Target)
	for i, a := range e.Attempts {
		fmt.Fprintf(&b, " (%d) %s: %s;", i+1, a.Source, strings.TrimPrefix(a.Err.Error(), "ortlib: "))
	}
	fmt.Fprintf(&b, " to use a library you already have, set $%s or pass --ort-lib with its path (ONNX Runtime 1.24 to 1.30),"+
		" or set $%s to a mirror of the release archive", EnvLib, EnvURL)
	return b.String()
}

// Unwrap returns each attempt's error.
func (e *InstallError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// source is one way of getting the library: it leaves a verified library in
// a temporary file in dir and returns that file's path.
type source struct {
	name  string
	fetch func(ctx context.Context, o Options, p platform, dir string) (string, error)
}

// sources lists what Install tries, in order: npm, then the mirror if one is
// set and the official release otherwise.
func (o Options) sources(p platform) []source {
	var srcs []source
	if p.npmEntry != "" {
		srcs = append(srcs, source{name: "npm " + npmSpec, fetch: fetchNPM})
	}
	url := o.archiveURL(p)
	srcs = append(srcs, source{name: url, fetch: func(ctx context.Context, o Options, p platform, dir string) (string, error) {
		return fetchHTTP(ctx, o, p, dir, url)
	}})
	return srcs
}

// archiveURL is the mirror from Options.URL or $IMAGEGEN_ORT_URL (a folder
// URL gets the asset name appended), or the official release asset.
func (o Options) archiveURL(p platform) string {
	u := o.URL
	if u == "" {
		u = os.Getenv(EnvURL)
	}
	switch {
	case u == "":
		return releaseBaseURL + p.releaseAsset
	case strings.HasSuffix(u, ".tgz") || strings.HasSuffix(u, ".tar.gz"):
		return u
	default:
		return strings.TrimSuffix(u, "/") + "/" + p.releaseAsset
	}
}

// install fetches the library into the cache. Without force it returns a
// library another process installed while this one waited for the lock.
func install(ctx context.Context, o Options, force bool) (string, error) {
	p, err := hostPlatform()
	if err != nil {
		return "", fmt.Errorf("%w; set $%s or pass --ort-lib with the path of an ONNX Runtime library", err, EnvLib)
	}
	dir := o.versionDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("ortlib: create cache folder: %w", err)
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return "", err
	}
	defer unlock()

	dst := CachedPath(o)
	if !force && checkLibraryFile(dst) == nil {
		return dst, nil
	}
	// Holding the lock means no other install is writing: whatever
	// temporary files are left belong to an interrupted run.
	removeTemps(dir)

	ierr := &InstallError{Target: dst}
	for _, src := range o.sources(p) {
		if err := ctx.Err(); err != nil {
			ierr.Attempts = append(ierr.Attempts, Attempt{Source: src.name, Err: err})
			break
		}
		o.logf("fetching ONNX Runtime %s from %s", Version, src.name)
		tmp, err := src.fetch(ctx, o, p, dir)
		if err == nil {
			err = commit(tmp, dst)
		}
		if err == nil {
			return dst, nil
		}
		if tmp != "" {
			os.Remove(tmp)
		}
		o.logf("%s failed: %v", src.name, err)
		ierr.Attempts = append(ierr.Attempts, Attempt{Source: src.name, Err: err})
	}
	return "", ierr
}

// tempPattern names every temporary file or folder install makes in the
// version folder, so an interrupted run's leftovers can be found.
const tempPattern = ".imagegen-*.tmp"

func removeTemps(dir string) {
	left, _ := filepath.Glob(filepath.Join(dir, tempPattern))
	for _, f := range left {
		os.RemoveAll(f)
	}
}

// commit makes the verified temporary library tmp the installed one. The
// rename is atomic, so a concurrent Locate sees the old file or the new one,
// never a partial one.
func commit(tmp, dst string) error {
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("ortlib: install library: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("ortlib: install library: %w", err)
	}
	return nil
}

// errLocked is wrapped by lockDir's errors.
var errLocked = errors.New("ortlib: cache is locked by another install")
