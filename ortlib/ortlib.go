package ortlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Version is the ONNX Runtime release imagegen installs when no library is
// configured.
const Version = "1.29.0"

// Environment variables read by Locate and Install.
const (
	// EnvLib names a library file to use instead of the cache.
	EnvLib = "IMAGEGEN_ORT_LIB"
	// EnvSharedLibraryPath is the variable onnxruntime_go's users already
	// set; it is honoured after EnvLib.
	EnvSharedLibraryPath = "ONNXRUNTIME_SHARED_LIBRARY_PATH"
	// EnvURL names a mirror of the release archive (a .tgz URL, or a folder
	// URL the archive name is appended to).
	EnvURL = "IMAGEGEN_ORT_URL"
	// EnvSHA256 pins the sha256 of the archive downloaded over HTTP.
	EnvSHA256 = "IMAGEGEN_ORT_SHA256"
)

var (
	// ErrNotFound is returned (wrapped) by Locate when no library is
	// configured and none is in the cache.
	ErrNotFound = errors.New("ortlib: ONNX Runtime library not found")
	// ErrChecksum is returned (wrapped) by Install when a download does not
	// match its expected digest.
	ErrChecksum = errors.New("ortlib: checksum mismatch")
	// ErrUnsupportedPlatform is returned (wrapped) by Install on an
	// operating system or architecture with no prebuilt library to fetch.
	ErrUnsupportedPlatform = errors.New("ortlib: no prebuilt ONNX Runtime for this platform")
)

// Options configures Locate, Ensure and Install. The zero value uses the
// environment and the default cache.
type Options struct {
	// Path is an explicit library file (the --ort-lib flag); it wins over
	// every other source.
	Path string
	// CacheDir is the folder holding one subfolder per ONNX Runtime version;
	// "" means DefaultCacheDir().
	CacheDir string
	// Progress receives progress bars for long transfers; nil draws none.
	Progress io.Writer
	// Logf receives one-line notices (which source is tried, why one
	// failed); nil discards them.
	Logf func(format string, args ...any)
	// HTTPClient is used for HTTP downloads; nil means a client with
	// connection and header timeouts but no overall deadline.
	HTTPClient *http.Client
	// URL is a mirror of the release archive; "" means $IMAGEGEN_ORT_URL,
	// and when that is empty too, the official GitHub release.
	URL string
	// SHA256 is the expected hex sha256 of the archive fetched over HTTP;
	// "" means $IMAGEGEN_ORT_SHA256, and when that is empty too the archive
	// is not checked (the library inside still is, where it can be).
	SHA256 string

	// npmCommand replaces "npm" (tests use a missing name to skip npm).
	npmCommand string
	// retryDelay is the first wait between HTTP retries; 0 means 1s.
	retryDelay time.Duration
	// idleTimeout aborts an HTTP attempt that receives nothing for this
	// long; 0 means 60s.
	idleTimeout time.Duration
}

// DefaultCacheDir returns the folder ONNX Runtime is installed under:
// $XDG_CACHE_HOME/imagegen/onnxruntime on Linux (os.UserCacheDir elsewhere),
// or a folder under os.TempDir when the user has no cache folder.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "imagegen", "onnxruntime")
}

// CachedPath returns where Install puts the library for opts: the file
// Locate looks for last.
func CachedPath(opts Options) string {
	return filepath.Join(opts.versionDir(), cacheLibName(hostGOOS))
}

func (o Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	return DefaultCacheDir()
}

func (o Options) versionDir() string { return filepath.Join(o.cacheDir(), Version) }

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o Options) archiveSHA256() string {
	s := o.SHA256
	if s == "" {
		s = os.Getenv(EnvSHA256)
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// Locate returns the path of an existing ONNX Runtime library, looking at
// opts.Path, $IMAGEGEN_ORT_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH and the
// cache in that order. The first of the three settings that is non-empty is
// used and must name an existing file; an error names the setting it came
// from. With none set and an empty cache the error wraps ErrNotFound.
func Locate(opts Options) (string, error) {
	configured := []struct{ from, path string }{
		{"--ort-lib", opts.Path},
		{"$" + EnvLib, os.Getenv(EnvLib)},
		{"$" + EnvSharedLibraryPath, os.Getenv(EnvSharedLibraryPath)},
	}
	for _, c := range configured {
		if c.path == "" {
			continue
		}
		if err := checkLibraryFile(c.path); err != nil {
			return "", fmt.Errorf("ortlib: ONNX Runtime library from %s: %w", c.from, err)
		}
		return c.path, nil
	}
	cached := CachedPath(opts)
	if checkLibraryFile(cached) == nil {
		return cached, nil
	}
	return "", fmt.Errorf("%w: --ort-lib, $%s and $%s are unset and %s does not exist",
		ErrNotFound, EnvLib, EnvSharedLibraryPath, cached)
}

// checkLibraryFile reports why path cannot be a library file, or nil.
func checkLibraryFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder; give the library file inside it", path)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// Ensure returns the library Locate finds, and installs one with Install
// only when Locate fails with ErrNotFound: a configured path that is wrong
// is reported, not silently replaced by a download.
func Ensure(ctx context.Context, opts Options) (string, error) {
	path, err := Locate(opts)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return path, err
	}
	return install(ctx, opts, false)
}

// Install fetches ONNX Runtime Version into the cache and returns the
// library's path, replacing any library already cached there. It ignores
// opts.Path and the environment's library paths. When every source fails
// the error is an *InstallError listing each one.
func Install(ctx context.Context, opts Options) (string, error) {
	return install(ctx, opts, true)
}
