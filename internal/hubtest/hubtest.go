// Package hubtest serves a folder as a Hugging Face Hub repository over
// httptest, for tests outside package hub (the CLI's hf: references). It
// implements the revision listing and resolve endpoints the hub client
// uses, with .onnx files stored as LFS files behind a redirect to a second
// server, as the real Hub does. Package hub's own tests use a richer fake
// with fault injection.
package hubtest

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
	"testing"
	"time"
)

type file struct {
	data         []byte
	lfs          bool
	sha1, sha256 string
}

// Server is a fake Hub holding one repository at revision "main".
type Server struct {
	// URL is the endpoint to put in HF_ENDPOINT.
	URL    string
	repo   string
	commit string
	files  map[string]*file
}

func gitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Serve publishes every file under dir as repo ("ORG/NAME").
func Serve(t testing.TB, repo, dir string) *Server {
	t.Helper()
	s := &Server{repo: repo, files: map[string]*file{}}
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		name := filepath.ToSlash(rel)
		sum := sha256.Sum256(data)
		s.files[name] = &file{data: data, lfs: strings.HasSuffix(name, ".onnx") || strings.HasSuffix(name, ".onnx_data"),
			sha1: gitBlobSHA1(data), sha256: hex.EncodeToString(sum[:])}
		names = append(names, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	c := sha1.New()
	for _, n := range names {
		fmt.Fprintf(c, "%s %s\n", n, s.files[n].sha1)
	}
	s.commit = hex.EncodeToString(c.Sum(nil))
	cdn := httptest.NewServer(http.HandlerFunc(s.serveCDN))
	apiMux, fileMux := http.NewServeMux(), http.NewServeMux()
	apiMux.HandleFunc("GET /api/models/{org}/{name}/revision/{rev}", s.serveListing)
	fileMux.HandleFunc("/{org}/{name}/resolve/{rev}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		s.serveResolve(w, r, cdn.URL)
	})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			apiMux.ServeHTTP(w, r)
			return
		}
		fileMux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { api.Close(); cdn.Close() })
	s.URL = api.URL
	return s
}

func (s *Server) known(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("org")+"/"+r.PathValue("name") != s.repo {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusNotFound)
		return false
	}
	if rev := r.PathValue("rev"); rev != "main" && rev != s.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "Invalid rev id", http.StatusNotFound)
		return false
	}
	return true
}

func (s *Server) serveListing(w http.ResponseWriter, r *http.Request) {
	if !s.known(w, r) {
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
		Size      int    `json:"size"`
		BlobID    string `json:"blobId"`
		LFS       *lfs   `json:"lfs,omitempty"`
	}
	var sib []sibling
	for name, f := range s.files {
		e := sibling{RFilename: name, Size: len(f.data), BlobID: f.sha1}
		if f.lfs {
			e.BlobID = gitBlobSHA1([]byte("lfs pointer " + f.sha256))
			e.LFS = &lfs{SHA256: f.sha256, Size: len(f.data), PointerSize: 134}
		}
		sib = append(sib, e)
	}
	sort.Slice(sib, func(i, j int) bool { return sib[i].RFilename < sib[j].RFilename })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": s.repo, "sha": s.commit, "siblings": sib})
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, cdn string) {
	if !s.known(w, r) {
		return
	}
	name := r.PathValue("path")
	f, ok := s.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", s.commit)
	if f.lfs {
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.data)))
		http.Redirect(w, r, cdn+"/blobs/"+f.sha256+"?name="+name, http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.sha1+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[r.URL.Query().Get("name")]
	if !ok || r.URL.Path != "/blobs/"+f.sha256 {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
