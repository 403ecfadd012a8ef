package hub

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

// DefaultEndpoint is the Hub's address, used when Client.Endpoint and
// $HF_ENDPOINT are empty.
const DefaultEndpoint = "https://huggingface.co"

// Client pulls repositories into a cache. The zero value is usable: it
// talks to DefaultEndpoint without a token and caches in the default
// folder. A Client holds no mutable state and may be used concurrently.
type Client struct {
	// Endpoint is the Hub or mirror address, without a trailing slash.
	Endpoint string
	// Token is sent as a bearer token to Endpoint (never to the hosts it
	// redirects downloads to).
	Token string
	// CacheDir is the cache root holding models--ORG--NAME folders.
	CacheDir string
	// Offline forbids network access: only the cache is read.
	Offline bool
	// Parallel bounds concurrent file transfers; 0 means 4.
	Parallel int
	// Retries is how many times a transient failure (5xx, 429, a reset or
	// cut connection) is retried for the listing and for each file (each
	// retry of a file resumes where the last one stopped); 0 means 5,
	// negative none.
	Retries int
	// RetryDelay is the first wait between retries, doubled each time up
	// to 16 times itself; 0 means one second.
	RetryDelay time.Duration
	// Progress, when set, is called as transfers advance, from several
	// goroutines at once.
	Progress func(Progress)
	// ProgressBars, when set, receives one progress bar per transferred
	// file, each on its own line, redrawn in place with ANSI cursor moves:
	// give it a terminal only. Bars scrolled off the top of the terminal
	// (more files than lines) are drawn over the wrong lines.
	ProgressBars io.Writer
	// HTTPClient makes the requests; nil means http.DefaultClient. Its
	// CheckRedirect is replaced in a copy so that tokens stay on Endpoint.
	HTTPClient *http.Client
	// UserAgent is sent with every request; "" means "imagegen".
	UserAgent string
	// ResolvePull selects the files Resolve pulls; the zero value pulls
	// the whole repository (or subfolder). See ONNXOnly.
	ResolvePull PullOptions
}

// Progress reports the state of one file transfer.
type Progress struct {
	// Path is the file's path in the repository.
	Path string
	// Done and Total count bytes; Total is -1 when unknown.
	Done, Total int64
	// Finished is set once, on the last report for the file.
	Finished bool
}

// PullOptions selects the files Pull fetches.
type PullOptions struct {
	// Include and Exclude are glob patterns (see the package
	// documentation); no Include means every file.
	Include []string
	Exclude []string
}

// ONNXOnly returns options that skip the weight formats an ONNX runner
// cannot use (safetensors, PyTorch, Flax, TensorFlow, GGUF), which many
// repositories publish beside their ONNX export.
func ONNXOnly() PullOptions {
	return PullOptions{Exclude: []string{"*.safetensors", "*.bin", "*.ckpt", "*.pt", "*.pth", "*.msgpack", "*.h5", "*.gguf"}}
}

// NewClientFromEnv returns a Client configured like huggingface_hub from
// HF_ENDPOINT, HF_TOKEN (else HUGGING_FACE_HUB_TOKEN, else the token file
// in HF_HOME or HF_TOKEN_PATH), HF_HUB_CACHE (else HF_HOME/hub, else
// ~/.cache/huggingface/hub) and HF_HUB_OFFLINE.
func NewClientFromEnv() *Client {
	return newClientFromLookup(os.LookupEnv)
}

func newClientFromLookup(lookup func(string) (string, bool)) *Client {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	home := get("HF_HOME")
	if home == "" {
		xdg := get("XDG_CACHE_HOME")
		if xdg == "" {
			if h, err := os.UserHomeDir(); err == nil {
				xdg = filepath.Join(h, ".cache")
			}
		}
		home = filepath.Join(xdg, "huggingface")
	}
	c := &Client{Endpoint: strings.TrimRight(get("HF_ENDPOINT"), "/")}
	c.CacheDir = get("HF_HUB_CACHE")
	if c.CacheDir == "" {
		c.CacheDir = get("HUGGINGFACE_HUB_CACHE")
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(home, "hub")
	}
	c.Token = get("HF_TOKEN")
	if c.Token == "" {
		c.Token = get("HUGGING_FACE_HUB_TOKEN")
	}
	if c.Token == "" {
		p := get("HF_TOKEN_PATH")
		if p == "" {
			p = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(p); err == nil {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	switch strings.ToUpper(get("HF_HUB_OFFLINE")) {
	case "1", "ON", "YES", "TRUE":
		c.Offline = true
	}
	return c
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) cacheDir() (string, error) {
	if c.CacheDir != "" {
		return c.CacheDir, nil
	}
	d := newClientFromLookup(func(string) (string, bool) { return "", false }).CacheDir
	if d == "" || !filepath.IsAbs(d) {
		return "", errors.New("hub: no cache folder: set HF_HUB_CACHE or Client.CacheDir")
	}
	return d, nil
}

func (c *Client) parallel() int {
	if c.Parallel <= 0 {
		return 4
	}
	return c.Parallel
}

// Pull downloads the files of ref's revision that pass opts (and lie under
// ref.Subfolder, when set) into the cache, and returns the snapshot folder
// (without the subfolder). Files already cached are not fetched again. In
// offline mode it returns the cached snapshot, or an error wrapping
// ErrNotCached.
func (c *Client) Pull(ctx context.Context, ref Ref, opts PullOptions) (string, error) {
	if err := ref.validate(); err != nil {
		return "", err
	}
	filter := Filter{Include: opts.Include, Exclude: opts.Exclude}
	if err := filter.Validate(); err != nil {
		return "", err
	}
	root, err := c.cacheDir()
	if err != nil {
		return "", err
	}
	rc := newRepoCache(root, ref)
	if c.Offline {
		return rc.cachedSnapshot(ref.revision())
	}
	info, err := c.listRevision(ctx, ref)
	if err != nil {
		return "", err
	}
	var files []remoteFile
	under := 0
	for _, f := range info.Files {
		if ref.Subfolder != "" && !strings.HasPrefix(f.Path, ref.Subfolder+"/") {
			continue
		}
		under++
		if filter.Match(f.Path) {
			files = append(files, f)
		}
	}
	if under == 0 && ref.Subfolder != "" {
		return "", fmt.Errorf("%w: %s at %s has no folder %s", ErrEntryNotFound, ref.Repo, ref.revision(), ref.Subfolder)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%w: %s at %s (%d files listed)", ErrNoMatch, ref.Repo, ref.revision(), len(info.Files))
	}
	if err := c.completeMetadata(ctx, ref, info.Commit, files); err != nil {
		return "", err
	}
	if err := c.downloadAll(ctx, rc, info.Commit, files); err != nil {
		return "", err
	}
	if err := rc.writeRef(ref.revision(), info.Commit); err != nil {
		return "", err
	}
	return rc.snapshotDir(info.Commit), nil
}

// Resolve returns the local folder for ref: its cached snapshot joined
// with its subfolder. Online, it first pulls whatever files of the
// subfolder (the whole repository when none) are missing; when the Hub
// cannot be reached at all it falls back to the cache, as huggingface_hub
// does. Offline, a revision absent from the cache gives an error wrapping
// ErrNotCached.
func (c *Client) Resolve(ctx context.Context, ref Ref) (string, error) {
	snap, err := c.Pull(ctx, ref, c.ResolvePull)
	if err != nil && !c.Offline && isUnreachable(err) {
		root, rerr := c.cacheDir()
		if rerr != nil {
			return "", err
		}
		var cerr error
		if snap, cerr = newRepoCache(root, ref).cachedSnapshot(ref.revision()); cerr != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	dir := snap
	if ref.Subfolder != "" {
		dir = filepath.Join(snap, filepath.FromSlash(ref.Subfolder))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", fmt.Errorf("%w: %s has no folder %s in %s", ErrEntryNotFound, ref.Repo, ref.Subfolder, snap)
		}
	}
	return dir, nil
}
