package c2patest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Version is the @contentauth/c2pa-wasm release the tests run (.ci/run
// installs the same).
const Version = "0.15.0"

// Result is what c2pa-rs made of one file.
type Result struct {
	File string `json:"file"`
	// State is c2pa-rs's validation_state: Trusted, Valid or Invalid.
	State         string   `json:"state"`
	Success       []string `json:"success"`
	Failure       []string `json:"failure"`
	Informational []string `json:"informational"`
	ClaimVersion  int      `json:"claim_version"`
	// Assertions maps the active manifest's assertion labels to their data.
	Assertions map[string]map[string]any `json:"assertions"`
	// Error is set when c2pa-rs refused the file.
	Error string `json:"error"`
}

// Read runs c2pa-rs on files, with the PEM certificates in the file
// trustPEM as trust anchors when it is not empty, and returns the results
// by file base name. It skips t when Node or the npm package is missing.
func Read(t testing.TB, trustPEM string, files ...string) map[string]Result {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the c2pa-rs (WebAssembly) check needs it")
	}
	dir, err := testdataDir()
	if err != nil {
		t.Skipf("c2pa/testdata not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@contentauth", "c2pa-wasm", "pkg", "c2pa_bg.wasm")); err != nil {
		t.Skip("@contentauth/c2pa-wasm is not installed; run: npm install --prefix c2pa/testdata --no-save @contentauth/c2pa-wasm@" + Version)
	}
	args := []string{filepath.Join(dir, "verify.mjs")}
	if trustPEM != "" {
		args = append(args, "--trust", trustPEM)
	}
	cmd := exec.Command(node, append(args, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]Result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("verify.mjs printed %q: %v", sc.Text(), err)
		}
		results[filepath.Base(r.File)] = r
	}
	if len(results) != len(files) {
		t.Fatalf("verify.mjs gave %d results for %d files:\n%s", len(results), len(files), out)
	}
	return results
}

// testdataDir finds c2pa/testdata from the working directory of a test
// (its package folder) by walking up to the module root.
func testdataDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "c2pa", "testdata"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
