package ortlib

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocateOrder(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("\x7fELF"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flagLib, envLib, envShared := file("flag.so"), file("env.so"), file("shared.so")
	missing := filepath.Join(dir, "missing.so")

	withCache := t.TempDir()
	cached := CachedPath(Options{CacheDir: withCache})
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	emptyCache := t.TempDir()

	tests := []struct {
		name                 string
		flag, env, envShared string
		cache                string
		want                 string
		wantErr              error  // errors.Is target
		wantMsg              string // substring of the error
	}{
		{name: "flag wins", flag: flagLib, env: envLib, envShared: envShared, cache: withCache, want: flagLib},
		{name: "IMAGEGEN_ORT_LIB next", env: envLib, envShared: envShared, cache: withCache, want: envLib},
		{name: "ONNXRUNTIME_SHARED_LIBRARY_PATH next", envShared: envShared, cache: withCache, want: envShared},
		{name: "cache last", cache: withCache, want: cached},
		{name: "nothing", cache: emptyCache, wantErr: ErrNotFound, wantMsg: emptyCache},
		{name: "missing flag path is an error", flag: missing, env: envLib, cache: withCache, wantErr: os.ErrNotExist, wantMsg: "--ort-lib"},
		{name: "missing env path is an error", env: missing, cache: withCache, wantErr: os.ErrNotExist, wantMsg: "$" + EnvLib},
		{name: "missing shared path is an error", envShared: missing, cache: withCache, wantErr: os.ErrNotExist, wantMsg: "$" + EnvSharedLibraryPath},
		{name: "folder is an error", flag: dir, wantMsg: "is a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvLib, tt.env)
			t.Setenv(EnvSharedLibraryPath, tt.envShared)
			got, err := Locate(Options{Path: tt.flag, CacheDir: tt.cache})
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil || got != tt.want {
					t.Errorf("Locate = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Locate = %q, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Locate error %v, want one wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Locate error %q lacks %q", err, tt.wantMsg)
			}
			if tt.wantErr != ErrNotFound && errors.Is(err, ErrNotFound) {
				t.Errorf("Locate error %v wraps ErrNotFound, so Ensure would download instead of reporting it", err)
			}
		})
	}
}

// TestEnsureKeepsConfiguredError checks that a wrong configured path is
// reported rather than replaced by a download.
func TestEnsureKeepsConfiguredError(t *testing.T) {
	t.Setenv(EnvLib, filepath.Join(t.TempDir(), "nope.so"))
	o := Options{CacheDir: t.TempDir(), npmCommand: "imagegen-test-no-such-npm", URL: "http://127.0.0.1:1/x.tgz"}
	_, err := Ensure(context.Background(), o)
	var ie *InstallError
	if err == nil || errors.As(err, &ie) || !strings.Contains(err.Error(), EnvLib) {
		t.Errorf("Ensure error %v, want the bad $%s reported without an install", err, EnvLib)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	got := DefaultCacheDir()
	if hostGOOS == "linux" {
		if want := filepath.Join(xdg, "imagegen", "onnxruntime"); got != want {
			t.Errorf("DefaultCacheDir = %q, want %q", got, want)
		}
	}
	if want := filepath.Join(got, Version, cacheLibName(hostGOOS)); CachedPath(Options{}) != want {
		t.Errorf("CachedPath = %q, want %q", CachedPath(Options{}), want)
	}
}
