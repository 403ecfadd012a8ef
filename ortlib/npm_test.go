package ortlib

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// npmRun is the one real npm install a test binary makes; tests that need
// the real library share it.
var npmRun struct {
	once    sync.Once
	skip    string
	cache   string
	path    string
	elapsed time.Duration
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if npmRun.cache != "" {
		os.RemoveAll(npmRun.cache)
	}
	os.Exit(code)
}

// realInstall installs the library from npm into a fresh cache once per
// test binary and returns that cache's options.
func realInstall(t *testing.T) (string, Options) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the real npm install (about 110 MB) in -short mode")
	}
	testPlatform(t)
	npmRun.once.Do(func() {
		if _, err := exec.LookPath("npm"); err != nil {
			npmRun.skip = "npm is not on PATH, so the npm install path cannot be exercised"
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "npm", "view", npmSpec, "version").CombinedOutput(); err != nil {
			npmRun.skip = "the npm registry is unreachable: " + strings.Join(strings.Fields(string(out)), " ")
			return
		}
		npmRun.cache, npmRun.err = os.MkdirTemp("", "ortlib-npm-test-*")
		if npmRun.err != nil {
			return
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		npmRun.path, npmRun.err = Install(ctx, npmOptions())
		npmRun.elapsed = time.Since(start)
	})
	if npmRun.skip != "" {
		t.Skip(npmRun.skip)
	}
	if npmRun.err != nil {
		t.Fatalf("Install from npm: %v", npmRun.err)
	}
	return npmRun.path, npmOptions()
}

// npmOptions uses the shared cache and an HTTP fallback that fails at once,
// so only npm can succeed.
func npmOptions() Options {
	return Options{CacheDir: npmRun.cache, URL: "http://127.0.0.1:1/unreachable.tgz", retryDelay: time.Millisecond}
}

func TestInstallNPM(t *testing.T) {
	t.Setenv(EnvLib, "")
	t.Setenv(EnvSharedLibraryPath, "")
	path, o := realInstall(t)
	p := testPlatform(t)
	checkInstalled(t, path, CachedPath(o), p.npmSHA256)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("npm install of %s took %v; %s is %d bytes", npmSpec, npmRun.elapsed.Round(10*time.Millisecond), path, st.Size())
	assertNoTemps(t, o)

	// Later calls find the cached library without fetching anything.
	o.npmCommand = "imagegen-test-no-such-npm"
	if got, err := Ensure(context.Background(), o); err != nil || got != path {
		t.Errorf("Ensure after install = %q, %v; want %q", got, err, path)
	}
}

func TestExtractNPMTarball(t *testing.T) {
	p := testPlatform(t)
	if p.npmEntry == "" {
		t.Skip("no npm build for this platform")
	}
	lib := fakeLibrary(t, 64<<10)
	tgz := buildTarball(t, []tarEntry{
		{name: "package/package.json", body: []byte(`{"name":"onnxruntime-node"}`)},
		{name: p.npmEntry, body: lib},
		{name: "package/README.md", body: []byte("readme")},
	})
	sum := sha512.Sum512(tgz)
	pinned := p
	pinned.npmSHA256 = sha256Hex(lib)

	tests := []struct {
		name    string
		want    []byte   // sha512 the registry reports
		plat    platform // with the pinned library digest
		wantErr error
		wantMsg string
	}{
		{name: "verified", want: sum[:], plat: pinned},
		{name: "tarball integrity mismatch", want: bytes.Repeat([]byte{1}, sha512.Size), plat: pinned, wantErr: ErrChecksum, wantMsg: "integrity"},
		{name: "library differs from pin", want: sum[:], plat: p, wantErr: ErrChecksum, wantMsg: "pinned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tarball := filepath.Join(dir, "onnxruntime-node-"+Version+".tgz")
			if err := os.WriteFile(tarball, tgz, 0o644); err != nil {
				t.Fatal(err)
			}
			var progress bytes.Buffer
			tmp, err := extractNPMTarball(tarball, tt.want, Options{Progress: &progress}, tt.plat, dir)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("extractNPMTarball: %v", err)
				}
				got, err := os.ReadFile(tmp)
				if err != nil || !bytes.Equal(got, lib) {
					t.Errorf("extracted %d bytes (%v), want the %d-byte library", len(got), err, len(lib))
				}
				if !strings.Contains(progress.String(), "extract") {
					t.Errorf("no progress bar drawn: %q", progress.String())
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("extractNPMTarball error %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, tempPattern)); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func TestParseSRISHA512(t *testing.T) {
	sum := sha512.Sum512([]byte("x"))
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		in string
		ok bool
	}{
		{"sha512-" + b64, true},
		{"sha1-abcd sha512-" + b64, true},
		{"sha512-" + b64 + "?opt", true},
		{"sha1-RaKvv3Nw4K5hfIBCWELo4Hr6ZrM=", false},
		{"sha512-!!!", false},
		{"sha512-" + base64.StdEncoding.EncodeToString(sum[:10]), false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSRISHA512(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parseSRISHA512(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && !bytes.Equal(got, sum[:]) {
				t.Errorf("parseSRISHA512(%q) = %x, want %x", tt.in, got, sum)
			}
		})
	}
}
