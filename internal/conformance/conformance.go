package conformance

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvDir overrides where the fixtures are looked for.
const EnvDir = "IMAGEGEN_CONFORMANCE"

// Root returns the folder holding refs.json and the checkpoint archives, or
// "" when it cannot be found. It looks at $IMAGEGEN_CONFORMANCE, then for
// shared/conformance beside every parent of the working directory.
func Root() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "conformance")
		if _, err := os.Stat(filepath.Join(cand, "refs.json")); err == nil {
			return cand
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

var extractMu sync.Mutex

// Dir returns the extracted checkpoint folder for name (for example
// "sd1-tiny"), extracting ../shared/conformance/NAME.tar.gz once into the
// user cache. It skips t when the fixtures are absent.
func Dir(t testing.TB, name string) string {
	t.Helper()
	root := Root()
	if root == "" {
		t.Skip("conformance fixtures not found: expected ../shared/conformance beside the repository (or set " + EnvDir + ")")
	}
	dir, err := Extract(root, name)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	return dir
}

// Extract unpacks root/NAME.tar.gz into a cache folder keyed by the
// archive's size and modification time and returns the checkpoint folder.
func Extract(root, name string) (string, error) {
	extractMu.Lock()
	defer extractMu.Unlock()
	archive := filepath.Join(root, name+".tar.gz")
	st, err := os.Stat(archive)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, "imagegen-conformance", fmt.Sprintf("%s-%d-%d", name, st.Size(), st.ModTime().Unix()))
	dir := filepath.Join(base, name)
	if _, err := os.Stat(filepath.Join(base, ".done")); err == nil {
		return dir, nil
	}
	tmp := base + ".tmp"
	os.RemoveAll(tmp)
	if err := untar(archive, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("extract %s: %w", archive, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".done"), nil, 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(base)
	if err := os.Rename(tmp, base); err != nil {
		return "", err
	}
	return dir, nil
}

func untar(archive, dst string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return fmt.Errorf("unsafe path %q", h.Name)
		}
		p := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// Array is an n-dimensional array from refs.json.
type Array struct {
	Shape []int     `json:"shape"`
	DType string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

// Float32 returns the data as float32.
func (a *Array) Float32() []float32 {
	out := make([]float32, len(a.Data))
	for i, v := range a.Data {
		out[i] = float32(v)
	}
	return out
}

var (
	refsOnce sync.Once
	refsMap  map[string]json.RawMessage
	refsErr  error
)

// Refs returns refs.json as a map from case name to its raw JSON. It skips t
// when the fixtures are absent.
func Refs(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	root := Root()
	if root == "" {
		t.Skip("conformance fixtures not found: expected ../shared/conformance beside the repository (or set " + EnvDir + ")")
	}
	refsOnce.Do(func() {
		var b []byte
		b, refsErr = os.ReadFile(filepath.Join(root, "refs.json"))
		if refsErr == nil {
			refsErr = json.Unmarshal(pyJSON(b), &refsMap)
		}
	})
	if refsErr != nil {
		t.Fatalf("conformance: refs.json: %v", refsErr)
	}
	return refsMap
}

// Case decodes the refs.json entry name into v (for example a struct with
// Array fields). It skips t when the fixtures are absent.
func Case(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := Refs(t)[name]
	if !ok {
		t.Fatalf("conformance: refs.json has no case %q", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("conformance: case %q: %v", name, err)
	}
}

// pyJSON turns Python's Infinity/-Infinity/NaN tokens outside strings into
// null so encoding/json accepts the file.
func pyJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			if c == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case strings.HasPrefix(string(b[i:min(i+9, len(b))]), "-Infinity"):
			out = append(out, "null"...)
			i += 8
		case strings.HasPrefix(string(b[i:min(i+8, len(b))]), "Infinity"):
			out = append(out, "null"...)
			i += 7
		case strings.HasPrefix(string(b[i:min(i+3, len(b))]), "NaN"):
			out = append(out, "null"...)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
