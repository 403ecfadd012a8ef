package hub

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// smallRepo is a synthetic repository for the tests that do not need a
// real checkpoint.
func smallRepo() map[string][]byte {
	return map[string][]byte{
		"README.md":               []byte("# tiny\n"),
		"model_index.json":        []byte(`{"_class_name": "OnnxStableDiffusionPipeline"}`),
		"unet/config.json":        []byte(`{"sample_size": 8}`),
		"unet/model.onnx":         bytes.Repeat([]byte("unet-weights-"), 4000),
		"unet/model.onnx_data":    bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 9000),
		"vae_decoder/config.json": []byte(`{"latent_channels": 4}`),
		"vae_decoder/model.onnx":  bytes.Repeat([]byte("vae-"), 3000),
		"tokenizer/vocab.json":    []byte(`{"a": 0}`),
	}
}

func isLFSName(n string) bool { return strings.Contains(n, ".onnx") }

func newSmallHub(t testing.TB) *fakeHub {
	return newFakeHub(t, "test-org/tiny", smallRepo(), isLFSName)
}

// snapshotFiles lists the regular files reachable in a snapshot folder,
// following its symlinks.
func snapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestPullFullFixture(t *testing.T) {
	hub, src := newFixtureHub(t)
	hub.token = "secret"
	c := hub.client(t)
	c.Token = "secret"
	var mu sync.Mutex
	finished := map[string]bool{}
	c.Progress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Finished {
			finished[p.Path] = true
		}
	}
	ref, err := ParseRef("hf:test-org/sd1-tiny")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Pull(context.Background(), ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.CacheDir, "models--test-org--sd1-tiny", "snapshots", hub.commit); snap != want {
		t.Errorf("snapshot %s, want %s", snap, want)
	}
	got := snapshotFiles(t, snap)
	if len(got) != len(hub.files) {
		t.Errorf("snapshot has %d files, want %d: %v", len(got), len(hub.files), got)
	}
	// Files with equal contents share a blob, downloaded once.
	blobs := map[string]bool{}
	for _, f := range hub.files {
		blobs[f.sha1] = true
	}
	if len(finished) != len(blobs) {
		t.Errorf("progress finished for %d files, want %d", len(finished), len(blobs))
	}
	for name, f := range hub.files {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(snap, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want) {
				t.Fatalf("content differs from the fixture")
			}
			etag := f.sha1
			if f.lfs {
				etag = f.sha256
			}
			pointer := filepath.Join(snap, filepath.FromSlash(name))
			target, err := os.Readlink(pointer)
			if err != nil {
				t.Fatalf("snapshot entry is not a symlink: %v", err)
			}
			depth := strings.Count(name, "/")
			wantTarget := filepath.Join(strings.Repeat("../", depth+2)+"blobs", etag)
			if target != wantTarget {
				t.Errorf("symlink target %s, want %s", target, wantTarget)
			}
		})
	}
	ref2, err := os.ReadFile(filepath.Join(c.CacheDir, "models--test-org--sd1-tiny", "refs", "main"))
	if err != nil || string(ref2) != hub.commit {
		t.Errorf("refs/main = %q (%v), want %s", ref2, err, hub.commit)
	}
	for _, a := range hub.cdnAuth {
		if a != "" {
			t.Errorf("the CDN host received Authorization %q", a)
		}
	}
	if n := len(hub.requests("cdn GET")); n != 4 {
		t.Errorf("%d CDN downloads, want 4 (the .onnx files)", n)
	}

	// A second pull lists the revision and downloads nothing.
	before := len(hub.requests(""))
	if _, err := c.Pull(context.Background(), ref, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if extra := hub.requests("")[before:]; len(extra) != 1 || !strings.Contains(extra[0], "/api/models/") {
		t.Errorf("second pull made requests %v, want only the listing", extra)
	}
}

func TestPullGlobs(t *testing.T) {
	tests := []struct {
		name             string
		ref              string
		include, exclude []string
		want             []string
	}{
		{"json anywhere", "test-org/tiny", []string{"*.json"}, nil,
			[]string{"model_index.json", "tokenizer/vocab.json", "unet/config.json", "vae_decoder/config.json"}},
		{"folder star minus onnx", "test-org/tiny", []string{"unet/*"}, []string{"*.onnx"},
			[]string{"unet/config.json", "unet/model.onnx_data"}},
		{"trailing slash", "test-org/tiny", []string{"vae_decoder/"}, nil,
			[]string{"vae_decoder/config.json", "vae_decoder/model.onnx"}},
		{"exclude only", "test-org/tiny", nil, []string{"*.onnx*", "README.md"},
			[]string{"model_index.json", "tokenizer/vocab.json", "unet/config.json", "vae_decoder/config.json"}},
		{"subfolder ref", "hf:test-org/tiny/unet", []string{"**/*.json"}, nil,
			[]string{"unet/config.json"}},
		{"class", "test-org/tiny", []string{"[tv]*/*.json"}, nil,
			[]string{"tokenizer/vocab.json", "vae_decoder/config.json"}},
	}
	hub := newSmallHub(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := hub.client(t)
			ref, err := ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := c.Pull(context.Background(), ref, PullOptions{Include: tt.include, Exclude: tt.exclude})
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshotFiles(t, snap); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("no match", func(t *testing.T) {
		_, err := hub.client(t).Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"*.safetensors"}})
		if !errors.Is(err, ErrNoMatch) {
			t.Errorf("got %v, want ErrNoMatch", err)
		}
	})
	t.Run("bad pattern", func(t *testing.T) {
		_, err := hub.client(t).Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"unet/[a"}})
		if err == nil || !strings.Contains(err.Error(), "unclosed") {
			t.Errorf("got %v, want an unclosed [ error", err)
		}
	})
}

func TestPullResume(t *testing.T) {
	const name = "unet/model.onnx_data"
	ctx := context.Background()
	t.Run("retry in the same pull", func(t *testing.T) {
		hub := newSmallHub(t)
		hub.cutAfter[name] = 20000
		c := hub.client(t)
		snap, err := c.Pull(ctx, Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, hub, snap, name)
		if got := hub.requests("cdn GET /blobs/"); len(got) != 2 || !strings.HasSuffix(got[1], "bytes=20000-") {
			t.Errorf("CDN requests %v, want a full one then bytes=20000-", got)
		}
	})
	t.Run("next pull resumes the incomplete file", func(t *testing.T) {
		hub := newSmallHub(t)
		hub.cutAfter[name] = 30000
		c := hub.client(t)
		c.Retries = -1
		_, err := c.Pull(ctx, Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{name}})
		if err == nil {
			t.Fatal("pull over a cut connection without retries succeeded")
		}
		inc := filepath.Join(c.CacheDir, "models--test-org--tiny", "blobs", hub.files[name].sha256+".incomplete")
		st, err := os.Stat(inc)
		if err != nil || st.Size() != 30000 {
			t.Fatalf("incomplete file: %v, size %v; want 30000 bytes", err, st)
		}
		snap, err := c.Pull(ctx, Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, hub, snap, name)
		if got := hub.requests("cdn GET /blobs/"); len(got) != 2 || !strings.HasSuffix(got[1], "bytes=30000-") {
			t.Errorf("resume requests %v, want one with bytes=30000-", got)
		}
		if _, err := os.Stat(inc); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("incomplete file left after success: %v", err)
		}
	})
}

func checkContent(t *testing.T, hub *fakeHub, snap, name string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(snap, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, hub.files[name].data) {
		t.Fatalf("%s: content differs (%d bytes, want %d)", name, len(got), len(hub.files[name].data))
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	for _, name := range []string{"unet/model.onnx", "unet/config.json"} {
		t.Run(name, func(t *testing.T) {
			hub := newSmallHub(t)
			hub.corrupt[name] = true
			c := hub.client(t)
			_, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{name}})
			if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), name) {
				t.Fatalf("got %v, want ErrChecksum naming %s", err, name)
			}
			blobs, _ := os.ReadDir(filepath.Join(c.CacheDir, "models--test-org--tiny", "blobs"))
			for _, b := range blobs {
				t.Errorf("blob folder holds %s after a mismatch", b.Name())
			}
		})
	}
}

func TestPullHTTPErrors(t *testing.T) {
	tests := []struct {
		name      string
		ref       Ref
		token     string // the server's
		gated     bool
		client    string // the client's token
		want      error
		wantInMsg []string
	}{
		{"no token", Ref{Repo: "test-org/tiny"}, "s3cret", false, "", ErrUnauthorized, []string{"HF_TOKEN", "--token", "test-org/tiny"}},
		{"wrong token", Ref{Repo: "test-org/tiny"}, "s3cret", false, "nope", ErrUnauthorized, []string{"refused"}},
		{"gated", Ref{Repo: "test-org/tiny"}, "s3cret", true, "s3cret", ErrUnauthorized, []string{"gated", "HF_TOKEN"}},
		{"unknown repo", Ref{Repo: "test-org/missing"}, "", false, "", ErrRepoNotFound, []string{"test-org/missing"}},
		{"unknown revision", Ref{Repo: "test-org/tiny", Revision: "v9"}, "", false, "", ErrRevisionNotFound, []string{`"v9"`, "test-org/tiny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newSmallHub(t)
			hub.token, hub.gated = tt.token, tt.gated
			c := hub.client(t)
			c.Token = tt.client
			_, err := c.Pull(context.Background(), tt.ref, PullOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			if n := len(hub.requests("api")); n != 1 {
				t.Errorf("%d requests, want 1 (no retry on a client error)", n)
			}
		})
	}
}

func TestPullRetriesServerErrors(t *testing.T) {
	hub := newSmallHub(t)
	hub.fail503 = 2
	c := hub.client(t)
	if _, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"*.md"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(hub.requests("/api/models/")); n != 3 {
		t.Errorf("%d listing requests, want 3", n)
	}
	hub.fail503 = 10
	c.Retries = 2
	_, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 {
		t.Errorf("got %v, want a 503 StatusError once retries run out", err)
	}
}

func TestPullRejectsUnsafeNames(t *testing.T) {
	for _, name := range []string{"../evil", "unet/../../evil", "/etc/evil", `unet\..\evil`, "unet//x", "./x", "unet/.", "C:evil", "a\x00b"} {
		t.Run(name, func(t *testing.T) {
			hub := newSmallHub(t)
			hub.extraNames = []string{name}
			c := hub.client(t)
			c.CacheDir = filepath.Join(t.TempDir(), "deep", "cache")
			_, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{})
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("got %v, want ErrUnsafePath", err)
			}
			for _, p := range []string{filepath.Join(c.CacheDir, "..", "evil"), filepath.Join(c.CacheDir, "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
	t.Run("symlinked folder in snapshot", func(t *testing.T) {
		hub := newSmallHub(t)
		c := hub.client(t)
		outside := t.TempDir()
		snap := filepath.Join(c.CacheDir, "models--test-org--tiny", "snapshots", hub.commit)
		if err := os.MkdirAll(snap, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(snap, "unet")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"unet/*.json"}})
		if !errors.Is(err, ErrUnsafePath) {
			t.Fatalf("got %v, want ErrUnsafePath", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("wrote %d entries through the symlink", len(entries))
		}
	})
}

func TestPullHEADFallback(t *testing.T) {
	hub := newSmallHub(t)
	hub.noBlobs = true
	c := hub.client(t)
	snap, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"unet/*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"unet/config.json", "unet/model.onnx", "unet/model.onnx_data"} {
		checkContent(t, hub, snap, name)
		f := hub.files[name]
		etag := f.sha1
		if f.lfs {
			etag = f.sha256
		}
		if _, err := os.Stat(filepath.Join(c.CacheDir, "models--test-org--tiny", "blobs", etag)); err != nil {
			t.Errorf("%s: blob not named by its etag: %v", name, err)
		}
	}
	if n := len(hub.requests("api HEAD")); n != 3 {
		t.Errorf("%d HEAD requests, want 3", n)
	}
	if n := len(hub.requests("cdn HEAD")); n != 0 {
		t.Errorf("HEAD followed the redirect to the CDN %d times", n)
	}
}

func TestPullListedFileMissing(t *testing.T) {
	hub := newSmallHub(t)
	hub.extraNames = []string{"ghost.json"}
	c := hub.client(t)
	_, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"*.json"}})
	if !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "ghost.json") {
		t.Fatalf("got %v, want ErrEntryNotFound naming ghost.json", err)
	}
	blobs, _ := os.ReadDir(filepath.Join(c.CacheDir, "models--test-org--tiny", "blobs"))
	for _, b := range blobs {
		if strings.HasSuffix(b.Name(), ".incomplete") {
			t.Errorf("left %s behind", b.Name())
		}
	}
}
