package hub

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagegen/imagegen/internal/conformance"
)

// fakeFile is one file of the fake Hub's repository.
type fakeFile struct {
	data   []byte
	lfs    bool
	sha1   string // git blob id
	sha256 string
}

// fakeHub is an httptest server implementing the part of the Hub API the
// client uses: the revision listing, resolve (HEAD and GET) with LFS files
// redirected to a second server standing for the CDN, and Range requests.
type fakeHub struct {
	api, cdn *httptest.Server
	repo     string
	commit   string
	refs     map[string]string // revision -> commit
	files    map[string]*fakeFile

	mu sync.Mutex
	// token, when set, is required on the API server.
	token string
	// gated answers 403 to any request carrying the right token.
	gated bool
	// cutAfter cuts the CDN connection after so many bytes, once per file.
	cutAfter map[string]int64
	// corrupt flips a byte of the named files' contents.
	corrupt map[string]bool
	// extraNames are listed but do not exist (path traversal attempts).
	extraNames []string
	// noBlobs leaves blob ids out of the listing (the HEAD fallback).
	noBlobs bool
	// fail503 answers 503 to that many next listing requests.
	fail503 int
	// log records "SERVER METHOD PATH RANGE" for each request.
	log []string
	// cdnAuth records Authorization headers seen by the CDN.
	cdnAuth []string
}

func gitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// newFakeHub serves files (path -> content) as repo at "main"; names that
// satisfy isLFS are stored as LFS files on the CDN server.
func newFakeHub(t testing.TB, repo string, files map[string][]byte, isLFS func(string) bool) *fakeHub {
	t.Helper()
	h := &fakeHub{repo: repo, files: map[string]*fakeFile{}, cutAfter: map[string]int64{}, corrupt: map[string]bool{}}
	names := make([]string, 0, len(files))
	for name, data := range files {
		names = append(names, name)
		h.files[name] = &fakeFile{data: data, lfs: isLFS(name), sha1: gitBlobSHA1(data), sha256: sha256Hex(data)}
	}
	sort.Strings(names)
	c := sha1.New()
	for _, n := range names {
		fmt.Fprintf(c, "%s %s\n", n, h.files[n].sha1)
	}
	h.commit = hex.EncodeToString(c.Sum(nil))
	h.refs = map[string]string{"main": h.commit, h.commit: h.commit}
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	apiMux, fileMux := http.NewServeMux(), http.NewServeMux()
	apiMux.HandleFunc("GET /api/models/{org}/{name}/revision/{rev}", h.serveListing)
	fileMux.HandleFunc("/{org}/{name}/resolve/{rev}/{path...}", h.serveResolve)
	h.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			apiMux.ServeHTTP(w, r)
			return
		}
		fileMux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.api.Close(); h.cdn.Close() })
	return h
}

// newFixtureHub serves the sd1-tiny checkpoint as ORG/NAME "test-org/sd1-tiny",
// with its .onnx files stored as LFS files.
func newFixtureHub(t testing.TB) (*fakeHub, string) {
	t.Helper()
	dir := conformance.Dir(t, "sd1-tiny")
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return newFakeHub(t, "test-org/sd1-tiny", files, func(n string) bool { return strings.HasSuffix(n, ".onnx") }), dir
}

func (h *fakeHub) record(server string, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", server, r.Method, r.URL.Path, r.Header.Get("Range"))))
}

// requests returns the logged requests whose text contains sub.
func (h *fakeHub) requests(sub string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.log {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// authorize answers 401/403 the way the Hub does and reports whether the
// request may go on.
func (h *fakeHub) authorize(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	token, gated := h.token, h.gated
	h.mu.Unlock()
	if token == "" {
		return true
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Invalid credentials in Authorization header")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return false
	}
	if gated {
		w.Header().Set("X-Error-Code", "GatedRepo")
		http.Error(w, "gated", http.StatusForbidden)
		return false
	}
	return true
}

func (h *fakeHub) commitFor(w http.ResponseWriter, r *http.Request) (string, bool) {
	if r.PathValue("org")+"/"+r.PathValue("name") != h.repo {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusNotFound)
		return "", false
	}
	commit, ok := h.refs[r.PathValue("rev")]
	if !ok {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "Invalid rev id", http.StatusNotFound)
		return "", false
	}
	return commit, true
}

func (h *fakeHub) serveListing(w http.ResponseWriter, r *http.Request) {
	h.record("api", r)
	h.mu.Lock()
	fail := h.fail503 > 0
	if fail {
		h.fail503--
	}
	h.mu.Unlock()
	if fail {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if !h.authorize(w, r) {
		return
	}
	commit, ok := h.commitFor(w, r)
	if !ok {
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
		Size      *int   `json:"size,omitempty"`
		BlobID    string `json:"blobId,omitempty"`
		LFS       *lfs   `json:"lfs,omitempty"`
	}
	var sib []sibling
	h.mu.Lock()
	for name, f := range h.files {
		s := sibling{RFilename: name}
		if !h.noBlobs {
			n := len(f.data)
			s.Size, s.BlobID = &n, f.sha1
			if f.lfs {
				s.BlobID = gitBlobSHA1([]byte("lfs pointer " + f.sha256))
				s.LFS = &lfs{SHA256: f.sha256, Size: n, PointerSize: 134}
			}
		}
		sib = append(sib, s)
	}
	for _, name := range h.extraNames {
		sib = append(sib, sibling{RFilename: name})
	}
	h.mu.Unlock()
	sort.Slice(sib, func(i, j int) bool { return sib[i].RFilename < sib[j].RFilename })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": h.repo, "sha": commit, "siblings": sib})
}

func (h *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request) {
	h.record("api", r)
	if !h.authorize(w, r) {
		return
	}
	commit, ok := h.commitFor(w, r)
	if !ok {
		return
	}
	name := r.PathValue("path")
	f, ok := h.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	if f.lfs {
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.data)))
		w.Header().Set("ETag", `"`+gitBlobSHA1([]byte("lfs pointer "+f.sha256))+`"`)
		http.Redirect(w, r, h.cdn.URL+"/blobs/"+f.sha256+"?name="+name, http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.sha1+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.content(name)))
}

// content returns the bytes served for name, corrupted when asked.
func (h *fakeHub) content(name string) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	data := h.files[name].data
	if h.corrupt[name] {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	return data
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.record("cdn", r)
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	h.mu.Unlock()
	name := r.URL.Query().Get("name")
	f, ok := h.files[name]
	if !ok || "/blobs/"+f.sha256 != r.URL.Path {
		http.NotFound(w, r)
		return
	}
	data := h.content(name)
	h.mu.Lock()
	cut, doCut := h.cutAfter[name]
	delete(h.cutAfter, name)
	h.mu.Unlock()
	if doCut && r.Header.Get("Range") == "" {
		// Announce the whole file, send part of it, then drop the
		// connection, as a network failure would.
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// client returns a Client on h with a fresh cache and fast retries.
func (h *fakeHub) client(t testing.TB) *Client {
	return &Client{Endpoint: h.api.URL, CacheDir: t.TempDir(), RetryDelay: time.Millisecond}
}
