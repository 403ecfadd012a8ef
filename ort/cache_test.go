package ort_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/testort"
	"github.com/imagegen/imagegen/ort"
)

const cacheTestN = 32 // a 4 KiB weight: ONNX Runtime saves it as external data

// notices collects an Options.Notice's messages.
type notices []string

func (n *notices) add(m string) { *n = append(*n, m) }

func (n notices) has(sub string) bool {
	for _, m := range n {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// openMatMul opens path through c and checks one run against x·W.
func openMatMul(t *testing.T, path string, c *ort.GraphCache, scale float32) (*ort.Session, notices) {
	t.Helper()
	var got notices
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1, Cache: c, Notice: got.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	checkMatMul(t, s, scale)
	return s, got
}

// checkMatMul runs x = [1 0 0 ... 0; 0 1 0 ... 0] through the model: the
// rows of the result are the first two rows of W[i][j] = scale·(i-j).
func checkMatMul(t *testing.T, s *ort.Session, scale float32) {
	t.Helper()
	n := cacheTestN
	x := make([]float32, 2*n)
	x[0], x[n+1] = 1, 1
	out := map[string]*ort.Tensor{"y": {}}
	if err := s.Run(context.Background(), map[string]ort.Tensor{"x": {Shape: []int64{2, int64(n)}, F32: x}}, out); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < n; j++ {
			want := scale * float32(i-j)
			if got := out["y"].F32[i*n+j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("y[%d][%d]: got %v, want %v", i, j, got, want)
			}
		}
	}
}

func writeMatMul(t *testing.T, dir string, scale float32) string {
	t.Helper()
	p := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(p, ort.MatMulModel(cacheTestN, scale), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func soundEntries(t *testing.T, c *ort.GraphCache) []ort.GraphCacheEntry {
	t.Helper()
	es, err := c.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Err != nil {
			t.Errorf("entry %s: %v", e.Key, e.Err)
		}
	}
	return es
}

func TestGraphCacheSecondLoadHits(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir()}
	path := writeMatMul(t, t.TempDir(), 0.5)
	first, said := openMatMul(t, path, c, 0.5)
	if first.GraphCacheHit() {
		t.Error("first load: hit on an empty cache")
	}
	if !said.has("first load") {
		t.Errorf("first load: notices %q do not say the graph is being saved", said)
	}
	es := soundEntries(t, c)
	if len(es) != 1 || es[0].Source != path || es[0].Runtime != ort.Version() || es[0].Device != "cpu" || es[0].Bytes == 0 {
		t.Fatalf("entries after the first load: %+v", es)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, es[0].Key, "model.onnx_data")); err != nil {
		t.Errorf("the entry has no external weights: %v", err)
	}
	second, said := openMatMul(t, path, c, 0.5)
	if !second.GraphCacheHit() {
		t.Error("second load: not served from the cache")
	}
	if len(said) != 0 {
		t.Errorf("second load: notices %q, want none", said)
	}
	if es := soundEntries(t, c); len(es) != 1 {
		t.Errorf("after the second load: %d entries, want 1", len(es))
	}
}

func TestGraphCacheChangedModelIsNotServedStale(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir()}
	dir := t.TempDir()
	openMatMul(t, writeMatMul(t, dir, 0.5), c, 0.5)
	s, _ := openMatMul(t, writeMatMul(t, dir, -2), c, -2)
	if s.GraphCacheHit() {
		t.Error("a rewritten model was served from the old entry")
	}
	if es := soundEntries(t, c); len(es) != 2 {
		t.Errorf("%d entries, want one per model version", len(es))
	}
}

func TestGraphCacheRebuildsBrokenEntries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, entry string)
	}{
		{"truncated weights", func(t *testing.T, entry string) {
			if err := os.Truncate(filepath.Join(entry, "model.onnx_data"), 100); err != nil {
				t.Fatal(err)
			}
		}},
		{"changed weights", func(t *testing.T, entry string) {
			p := filepath.Join(entry, "model.onnx_data")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing manifest", func(t *testing.T, entry string) {
			if err := os.Remove(filepath.Join(entry, "entry.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage graph with a matching manifest", func(t *testing.T, entry string) {
			// The manifest is rewritten to match, so only ONNX Runtime's own
			// load can tell.
			p := filepath.Join(entry, "model.onnx")
			if err := os.WriteFile(p, []byte("not a model"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := ort.RewriteManifest(entry); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testort.Init(t)
			c := &ort.GraphCache{Dir: t.TempDir()}
			path := writeMatMul(t, t.TempDir(), 0.25)
			openMatMul(t, path, c, 0.25)
			es := soundEntries(t, c)
			if len(es) != 1 {
				t.Fatalf("%d entries, want 1", len(es))
			}
			tc.spoil(t, filepath.Join(c.Dir, es[0].Key))
			s, got := openMatMul(t, path, c, 0.25)
			if s.GraphCacheHit() {
				t.Error("served from a broken entry")
			}
			if !got.has("unusable") {
				t.Errorf("no notice about the broken entry: %q", got)
			}
			if es := soundEntries(t, c); len(es) != 1 {
				t.Errorf("after the rebuild: %d entries, want 1", len(es))
			}
			if s, _ := openMatMul(t, path, c, 0.25); !s.GraphCacheHit() {
				t.Error("the rebuilt entry is not used")
			}
		})
	}
}

func TestGraphCacheUnwritableFolderLoadsUncached(t *testing.T) {
	testort.Init(t)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(readOnly, 0o700) })
	full := &ort.GraphCache{Dir: t.TempDir()}
	ort.SetFreeBytes(full, func(string) (int64, error) { return 1024, nil })
	for _, tc := range []struct {
		name string
		c    *ort.GraphCache
	}{
		{"folder under a file", &ort.GraphCache{Dir: filepath.Join(file, "cache")}},
		{"read-only folder", &ort.GraphCache{Dir: filepath.Join(readOnly, "cache")}},
		{"full disk", full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "read-only folder" && os.Geteuid() == 0 {
				t.Skip("root writes into read-only folders")
			}
			s, got := openMatMul(t, writeMatMul(t, t.TempDir(), 1), tc.c, 1)
			if s.GraphCacheHit() {
				t.Error("hit in a cache that cannot be written")
			}
			if !got.has("loading") || !got.has("uncached") {
				t.Errorf("notices %q do not say the load went uncached", got)
			}
		})
	}
}

func TestGraphCacheSkipsSmallModels(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir(), MinModelBytes: 1 << 20}
	openMatMul(t, writeMatMul(t, t.TempDir(), 1), c, 1)
	if es := soundEntries(t, c); len(es) != 0 {
		t.Errorf("a %d-byte model was cached below MinModelBytes", len(ort.MatMulModel(cacheTestN, 1)))
	}
}

func TestGraphCacheOpenBytes(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir()}
	data := ort.MatMulModel(cacheTestN, 3)
	for i, wantHit := range []bool{false, true} {
		s, err := ort.OpenBytes("matmul", data, ort.Options{IntraOpThreads: 1, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		checkMatMul(t, s, 3)
		if s.GraphCacheHit() != wantHit {
			t.Errorf("load %d: hit %v, want %v", i+1, s.GraphCacheHit(), wantHit)
		}
		s.Close()
	}
}

func TestGraphCacheClear(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir()}
	dir := t.TempDir()
	openMatMul(t, writeMatMul(t, dir, 1), c, 1)
	openMatMul(t, writeMatMul(t, dir, 2), c, 2)
	other := filepath.Join(c.Dir, "notes.txt")
	if err := os.WriteFile(other, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, size, err := c.Clear()
	if err != nil || n != 2 || size == 0 {
		t.Fatalf("Clear: %d entries, %d bytes, %v; want 2 entries", n, size, err)
	}
	if es := soundEntries(t, c); len(es) != 0 {
		t.Errorf("%d entries left", len(es))
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("Clear removed a file that is not an entry: %v", err)
	}
	missing := &ort.GraphCache{Dir: filepath.Join(t.TempDir(), "never-made")}
	if es, err := missing.Entries(); err != nil || len(es) != 0 {
		t.Errorf("missing folder: %v, %v; want an empty cache", es, err)
	}
	if _, _, err := missing.Clear(); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Clear of a missing folder: %v", err)
	}
}

// TestGraphCacheWatchesExternalData opens a model whose weight is in
// model.onnx_data (an optimized graph of the cache itself) and checks that
// rewriting only that file makes a new entry.
func TestGraphCacheWatchesExternalData(t *testing.T) {
	testort.Init(t)
	c := &ort.GraphCache{Dir: t.TempDir()}
	openMatMul(t, writeMatMul(t, t.TempDir(), 1), c, 1)
	es := soundEntries(t, c)
	if len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
	model := t.TempDir()
	for _, name := range []string{"model.onnx", "model.onnx_data"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, es[0].Key, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(model, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c2 := &ort.GraphCache{Dir: t.TempDir()}
	path := filepath.Join(model, "model.onnx")
	openMatMul(t, path, c2, 1)
	if s, _ := openMatMul(t, path, c2, 1); !s.GraphCacheHit() {
		t.Fatal("second load of the external-data model: not served from the cache")
	}
	// Scale W by 2 in place: same size, same graph file.
	data := filepath.Join(model, "model.onnx_data")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+4 <= len(b); i += 4 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(2*v))
	}
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := openMatMul(t, path, c2, 2); s.GraphCacheHit() {
		t.Error("changed external data served from the old entry")
	}
}
