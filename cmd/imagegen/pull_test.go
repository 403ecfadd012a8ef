package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newPullTestHub serves a two-file repository "test-org/tiny" at "main" with
// the subset of the Hub API that hub.Client uses; model.onnx is an LFS file
// redirected to /cdn/ on the same server.
func newPullTestHub(t *testing.T) *httptest.Server {
	files := map[string][]byte{"model_index.json": []byte(`{"a": 1}`), "unet/model.onnx": []byte("weights")}
	const commit = "0123456789abcdef0123456789abcdef01234567"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/models/test-org/tiny/revision/main":
			var sib []map[string]any
			for name, data := range files {
				h := sha1.New()
				fmt.Fprintf(h, "blob %d\x00%s", len(data), data)
				s := map[string]any{"rfilename": name, "size": len(data), "blobId": hex.EncodeToString(h.Sum(nil))}
				if strings.HasSuffix(name, ".onnx") {
					sum := sha256.Sum256(data)
					s["lfs"] = map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": len(data), "pointerSize": 130}
				}
				sib = append(sib, s)
			}
			json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": sib})
		case strings.HasPrefix(r.URL.Path, "/test-org/tiny/resolve/"+commit+"/"):
			name := strings.TrimPrefix(r.URL.Path, "/test-org/tiny/resolve/"+commit+"/")
			if strings.HasSuffix(name, ".onnx") {
				http.Redirect(w, r, "/cdn/"+name, http.StatusFound)
				return
			}
			w.Write(files[name])
		case strings.HasPrefix(r.URL.Path, "/cdn/"):
			w.Write(files[strings.TrimPrefix(r.URL.Path, "/cdn/")])
		default:
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, "not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPullCommand(t *testing.T) {
	srv := newPullTestHub(t)
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_TOKEN", "")
	snap := filepath.Join(cache, "models--test-org--tiny", "snapshots", "0123456789abcdef0123456789abcdef01234567")
	tests := []struct {
		name    string
		args    []string
		want    string // last line of stdout
		files   []string
		wantErr string
	}{
		{"json only", []string{"pull", "--include", "*.json", "test-org/tiny"}, snap, []string{"model_index.json"}, ""},
		{"flags after the id", []string{"pull", "hf:test-org/tiny@main", "--exclude=*.json", "--token", "t"}, snap, []string{"unet/model.onnx"}, ""},
		{"subfolder", []string{"pull", "hf:test-org/tiny/unet"}, filepath.Join(snap, "unet"), []string{"unet/model.onnx"}, ""},
		{"offline from the cache", []string{"pull", "test-org/tiny", "--offline"}, snap, nil, ""},
		{"offline not cached", []string{"pull", "--offline", "test-org/other"}, "", nil, "not in the local cache"},
		{"unknown repo", []string{"pull", "test-org/other"}, "", nil, "test-org/other not found"},
		{"bad id", []string{"pull", "tiny"}, "", nil, "want ORG/NAME"},
		{"no id", []string{"pull"}, "", nil, "one ORG/NAME"},
		{"unknown flag after id", []string{"pull", "test-org/tiny", "--bogus"}, "", nil, "unknown flag --bogus"},
		{"flag without value", []string{"pull", "test-org/tiny", "--include"}, "", nil, "needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := lastLine(out); got != tt.want {
				t.Fatalf("printed %q, want %q", got, tt.want)
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(snap, filepath.FromSlash(f))); err != nil {
					t.Errorf("%s not pulled: %v", f, err)
				}
			}
		})
	}
}
