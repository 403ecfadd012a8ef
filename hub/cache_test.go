package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeHFCache lays out files the way huggingface_hub does: blobs named by
// ETag, a snapshot of relative symlinks, refs/main holding the commit
// without a newline, and a .locks folder.
func writeHFCache(t *testing.T, root string, hub *fakeHub, names []string) string {
	t.Helper()
	repo := filepath.Join(root, "models--"+strings.ReplaceAll(hub.repo, "/", "--"))
	snap := filepath.Join(repo, "snapshots", hub.commit)
	for _, d := range []string{filepath.Join(repo, "blobs"), filepath.Join(repo, "refs"), snap, filepath.Join(root, ".locks", filepath.Base(repo))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		f := hub.files[name]
		etag := f.sha1
		if f.lfs {
			etag = f.sha256
		}
		if err := os.WriteFile(filepath.Join(repo, "blobs", etag), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		pointer := filepath.Join(snap, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
			t.Fatal(err)
		}
		target, _ := filepath.Rel(filepath.Dir(pointer), filepath.Join(repo, "blobs", etag))
		if err := os.Symlink(target, pointer); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(hub.commit), 0o644); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestReadHFCache(t *testing.T) {
	hub := newSmallHub(t)
	root := t.TempDir()
	names := []string{"model_index.json", "unet/config.json", "unet/model.onnx"}
	snap := writeHFCache(t, root, hub, names)
	hub.api.Close() // nothing below may reach the network

	tests := []struct {
		ref  string
		want string
	}{
		{"hf:test-org/tiny", snap},
		{"hf:test-org/tiny@main", snap},
		{"hf:test-org/tiny@" + hub.commit, snap},
		{"hf:test-org/tiny/unet", filepath.Join(snap, "unet")},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			c := &Client{CacheDir: root, Offline: true, Endpoint: hub.api.URL}
			ref, err := ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			dir, err := c.Resolve(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if dir != tt.want {
				t.Fatalf("got %s, want %s", dir, tt.want)
			}
		})
	}
	for _, name := range names {
		checkContent(t, hub, snap, name)
	}
}

func TestOfflineErrors(t *testing.T) {
	hub := newSmallHub(t)
	root := t.TempDir()
	writeHFCache(t, root, hub, []string{"unet/config.json"})
	tests := []struct {
		ref  Ref
		want error
	}{
		{Ref{Repo: "test-org/other"}, ErrNotCached},
		{Ref{Repo: "test-org/tiny", Revision: "v2"}, ErrNotCached},
		{Ref{Repo: "test-org/tiny", Revision: strings.Repeat("ab", 20)}, ErrNotCached},
		{Ref{Repo: "test-org/tiny", Subfolder: "vae_decoder"}, ErrEntryNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.ref.String(), func(t *testing.T) {
			c := &Client{CacheDir: root, Offline: true, Endpoint: hub.api.URL}
			_, err := c.Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.ref.Repo) {
				t.Errorf("message %q does not name the repository", err)
			}
		})
	}
	if n := len(hub.requests("")); n != 0 {
		t.Errorf("offline mode made %d requests", n)
	}
}

func TestPullThenOffline(t *testing.T) {
	hub := newSmallHub(t)
	c := hub.client(t)
	ref := Ref{Repo: "test-org/tiny", Subfolder: "unet"}
	online, err := c.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, filepath.Dir(online)); len(got) != 3 {
		t.Errorf("online Resolve of unet pulled %v, want the 3 unet files", got)
	}
	hub.api.Close()
	hub.cdn.Close()
	off := *c
	off.Offline = true
	offline, err := off.Resolve(context.Background(), ref)
	if err != nil || offline != online {
		t.Fatalf("offline Resolve = %s, %v; want %s", offline, err, online)
	}
	// Online but unreachable: Resolve falls back to the cache, Pull fails.
	fallback, err := c.Resolve(context.Background(), ref)
	if err != nil || fallback != online {
		t.Errorf("unreachable Resolve = %s, %v; want %s", fallback, err, online)
	}
	if _, err := c.Pull(context.Background(), ref, PullOptions{}); err == nil {
		t.Error("Pull with the Hub down succeeded")
	}
}

func TestPullCompletesHFCache(t *testing.T) {
	hub := newSmallHub(t)
	root := t.TempDir()
	writeHFCache(t, root, hub, []string{"unet/config.json", "unet/model.onnx"})
	c := &Client{CacheDir: root, Endpoint: hub.api.URL}
	snap, err := c.Pull(context.Background(), Ref{Repo: "test-org/tiny"}, PullOptions{Include: []string{"unet/*"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := hub.requests("resolve"); len(got) != 1 || !strings.HasSuffix(got[0], "unet/model.onnx_data") {
		t.Errorf("downloads %v, want only the missing unet/model.onnx_data", got)
	}
	for _, name := range []string{"unet/config.json", "unet/model.onnx", "unet/model.onnx_data"} {
		checkContent(t, hub, snap, name)
	}
}
