package ortlib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLibrary returns n bytes that start like a library of the host.
func fakeLibrary(t *testing.T, n int) []byte {
	t.Helper()
	p := testPlatform(t)
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, p.magic[0])
	return b
}

func testPlatform(t testing.TB) platform {
	t.Helper()
	p, err := hostPlatform()
	if err != nil {
		t.Skipf("no prebuilt ONNX Runtime for this platform: %v", err)
	}
	return p
}

type tarEntry struct {
	name, link string // link != "" makes a symlink
	body       []byte
}

// buildTarball writes a gzip-compressed tar of entries.
func buildTarball(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Mode: 0o777, Linkname: e.link, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// releaseTarball lays lib out the way the official release archive does:
// one versioned file and two symlinks to it under a top folder.
func releaseTarball(t testing.TB, lib []byte) []byte {
	p := testPlatform(t)
	top := strings.TrimSuffix(p.releaseAsset, ".tgz") + "/"
	versioned := p.releaseEntries[0]
	return buildTarball(t, []tarEntry{
		{name: top + "LICENSE", body: []byte("MIT License\n")},
		{name: top + "include/onnxruntime_c_api.h", body: []byte("/* header */\n")},
		{name: top + p.releaseEntries[1], link: filepath.Base(versioned)},
		{name: top + p.releaseEntries[len(p.releaseEntries)-1], link: filepath.Base(p.releaseEntries[1])},
		{name: top + versioned, body: lib},
	})
}

// archiveServer serves body with Range support, but cuts the first
// `interrupt` responses off halfway.
type archiveServer struct {
	body      []byte
	status    int // non-zero: answer every request with this status
	interrupt int // how many responses to cut off halfway

	mu       sync.Mutex
	requests int
	ranges   []string
}

func (s *archiveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.requests <= s.interrupt
	s.mu.Unlock()
	if s.status != 0 {
		http.Error(w, http.StatusText(s.status), s.status)
		return
	}
	if cut {
		w.Header().Set("Content-Length", fmt.Sprint(len(s.body)))
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusOK)
		w.Write(s.body[:len(s.body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	w.Header().Set("ETag", `"v1"`)
	http.ServeContent(w, r, "archive.tgz", time.Unix(1700000000, 0), bytes.NewReader(s.body))
}

func (s *archiveServer) stats() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, append([]string(nil), s.ranges...)
}

// httpOnly returns Options that skip npm and fetch from srv.
func httpOnly(t *testing.T, srv *httptest.Server, logs *[]string) Options {
	p := testPlatform(t)
	var mu sync.Mutex
	return Options{
		CacheDir:   t.TempDir(),
		URL:        srv.URL + "/" + p.releaseAsset,
		HTTPClient: srv.Client(),
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if logs != nil {
				*logs = append(*logs, fmt.Sprintf(format, args...))
			}
		},
		npmCommand: "imagegen-test-no-such-npm",
		retryDelay: time.Millisecond,
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// assertNoTemps fails if an install left temporary files behind.
func assertNoTemps(t *testing.T, o Options) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(o.versionDir(), tempPattern))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestInstallHTTP(t *testing.T) {
	t.Setenv(EnvSHA256, "")
	lib := fakeLibrary(t, 300<<10)
	tgz := releaseTarball(t, lib)
	p := testPlatform(t)

	tests := []struct {
		name      string
		srv       *archiveServer
		sha256    string
		wantErr   error  // errors.Is target; nil = success
		wantMsg   string // substring of the error
		requests  int    // expected request count
		wantRange bool   // a later request resumed with Range
		wantNote  string // substring of a logged notice
	}{
		{name: "success unpinned", srv: &archiveServer{body: tgz}, requests: 1, wantNote: "not verified"},
		{name: "success pinned", srv: &archiveServer{body: tgz}, sha256: sha256Hex(tgz), requests: 1},
		{name: "pinned uppercase", srv: &archiveServer{body: tgz}, sha256: strings.ToUpper(sha256Hex(tgz)), requests: 1},
		{name: "checksum mismatch", srv: &archiveServer{body: tgz}, sha256: sha256Hex([]byte("other")), wantErr: ErrChecksum, requests: 1},
		{name: "truncated body", srv: &archiveServer{body: tgz, interrupt: 1 << 30}, wantErr: io.ErrUnexpectedEOF, requests: httpAttempts, wantRange: true},
		{name: "404", srv: &archiveServer{status: http.StatusNotFound}, wantMsg: "404 Not Found", requests: 1},
		{name: "503 retried", srv: &archiveServer{status: http.StatusServiceUnavailable}, wantMsg: "503", requests: httpAttempts},
		{name: "resume after interruption", srv: &archiveServer{body: tgz, interrupt: 1}, requests: 2, wantRange: true},
		{name: "truncated archive", srv: &archiveServer{body: tgz[:len(tgz)/2]}, wantErr: io.ErrUnexpectedEOF, requests: 1},
		{name: "not a gzip", srv: &archiveServer{body: []byte("<html><body>rate limited</body></html>")}, wantErr: gzip.ErrHeader, requests: 1},
		{name: "no library inside", srv: &archiveServer{body: buildTarball(t, []tarEntry{{name: "x/README", body: []byte("hi")}})}, wantMsg: "no ONNX Runtime library", requests: 1},
		{name: "library is not a binary", srv: &archiveServer{body: buildTarball(t, []tarEntry{{name: "x/" + p.releaseEntries[0], body: []byte("<html>")}})}, wantMsg: "does not start like", requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.srv)
			defer srv.Close()
			var logs []string
			o := httpOnly(t, srv, &logs)
			o.SHA256 = tt.sha256
			got, err := Install(context.Background(), o)
			requests, ranges := tt.srv.stats()
			if requests != tt.requests {
				t.Errorf("server saw %d requests, want %d (ranges %q)", requests, tt.requests, ranges)
			}
			if tt.wantRange && (len(ranges) < 2 || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-") {
				t.Errorf("second request's Range = %q, want a resume from a non-zero offset", ranges)
			}
			assertNoTemps(t, o)
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Install: %v", err)
				}
				checkInstalled(t, got, CachedPath(o), sha256Hex(lib))
				if tt.wantNote != "" && !strings.Contains(strings.Join(logs, "\n"), tt.wantNote) {
					t.Errorf("notices %q lack %q", logs, tt.wantNote)
				}
				return
			}
			if err == nil {
				t.Fatalf("Install succeeded (%s), want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Install error %v, want one wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Install error %q lacks %q", err, tt.wantMsg)
			}
			var ie *InstallError
			if !errors.As(err, &ie) || len(ie.Attempts) != 2 {
				t.Errorf("Install error %#v, want an *InstallError with the npm and HTTP attempts", err)
			}
			if _, serr := os.Stat(CachedPath(o)); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a library was installed after a failure: stat %v", serr)
			}
		})
	}
}

// checkInstalled verifies the library at got is where and what it should be.
func checkInstalled(t *testing.T, got, wantPath, wantSHA string) {
	t.Helper()
	if got != wantPath {
		t.Errorf("installed at %s, want %s", got, wantPath)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256Hex(b); s != wantSHA {
		t.Errorf("installed library sha256 %s, want %s", s, wantSHA)
	}
	st, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("installed library mode %v, want 0755", st.Mode().Perm())
	}
}

func TestInstallErrorMessage(t *testing.T) {
	srv := httptest.NewServer(&archiveServer{status: http.StatusNotFound})
	defer srv.Close()
	o := httpOnly(t, srv, nil)
	_, err := Install(context.Background(), o)
	if err == nil {
		t.Fatal("Install succeeded, want an error")
	}
	msg := err.Error()
	for _, want := range []string{"(1) npm " + npmSpec, "npm client not found", "(2) " + o.URL, "404", EnvLib, "--ort-lib", EnvURL} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans several lines: %q", msg)
	}
}

// TestEnsureConcurrent checks that two installs at once download once: the
// second waits for the lock and then finds the first one's library.
func TestEnsureConcurrent(t *testing.T) {
	t.Setenv(EnvLib, "")
	t.Setenv(EnvSharedLibraryPath, "")
	lib := fakeLibrary(t, 100<<10)
	as := &archiveServer{body: releaseTarball(t, lib)}
	srv := httptest.NewServer(as)
	defer srv.Close()
	o := httpOnly(t, srv, nil)

	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var started atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			paths[i], errs[i] = Ensure(context.Background(), o)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Ensure %d: %v", i, errs[i])
		}
		checkInstalled(t, paths[i], CachedPath(o), sha256Hex(lib))
	}
	if requests, _ := as.stats(); requests != 1 {
		t.Errorf("server saw %d downloads for %d concurrent Ensure calls, want 1", requests, n)
	}
}

func TestInstallCancelled(t *testing.T) {
	srv := httptest.NewServer(&archiveServer{status: http.StatusServiceUnavailable})
	defer srv.Close()
	o := httpOnly(t, srv, nil)
	o.retryDelay = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Install(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Install error %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Install took %v after its context ended", d)
	}
	assertNoTemps(t, o)
}

func TestStalledDownload(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release // send nothing more
	}))
	defer srv.Close()
	defer close(release)
	o := httpOnly(t, srv, nil)
	o.idleTimeout = 50 * time.Millisecond
	_, err := Install(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no data for") {
		t.Errorf("Install error %v, want the stall to be reported", err)
	}
}

func TestArchiveURL(t *testing.T) {
	p := testPlatform(t)
	tests := []struct {
		name, opt, env, want string
	}{
		{"official", "", "", releaseBaseURL + p.releaseAsset},
		{"env file", "", "https://mirror.example/ort.tgz", "https://mirror.example/ort.tgz"},
		{"env folder", "", "https://mirror.example/ort/", "https://mirror.example/ort/" + p.releaseAsset},
		{"option wins", "https://a.example/x.tar.gz", "https://b.example/y.tgz", "https://a.example/x.tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvURL, tt.env)
			if got := (Options{URL: tt.opt}).archiveURL(p); got != tt.want {
				t.Errorf("archiveURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"bytes 200-199/200", 0, 0, false},
		{"bytes -5-9/10", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			start, total, err := parseContentRange(tt.in)
			if (err == nil) != tt.ok || start != tt.start || total != tt.total {
				t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, start, total, err, tt.start, tt.total, tt.ok)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"404", &statusError{http.StatusNotFound}, false},
		{"403", fmt.Errorf("wrapped: %w", &statusError{http.StatusForbidden}), false},
		{"500", &statusError{http.StatusInternalServerError}, true},
		{"429", &statusError{http.StatusTooManyRequests}, true},
		{"416 restarts", &statusError{http.StatusRequestedRangeNotSatisfiable}, true},
		{"unknown host", &net.OpError{Op: "dial", Err: &net.DNSError{Name: "x.invalid", IsNotFound: true}}, false},
		{"DNS timeout", &net.DNSError{Name: "x", IsTimeout: true}, true},
		{"cut off", io.ErrUnexpectedEOF, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
