package c2pa

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The reference check: c2pa-rs, the C2PA reference implementation,
// compiled to WebAssembly (npm @contentauth/c2pa-wasm), reads the files
// Sign writes. .ci/run installs the package into testdata/node_modules.

const wasmPackage = "testdata/node_modules/@contentauth/c2pa-wasm/pkg/c2pa_bg.wasm"

// wasmResult is one line of testdata/verify.mjs.
type wasmResult struct {
	File          string                    `json:"file"`
	State         string                    `json:"state"`
	Success       []string                  `json:"success"`
	Failure       []string                  `json:"failure"`
	Informational []string                  `json:"informational"`
	ClaimVersion  int                       `json:"claim_version"`
	Assertions    map[string]map[string]any `json:"assertions"`
	Error         string                    `json:"error"`
}

// runC2PAWasm runs testdata/verify.mjs on files, trusting the PEM roots
// in trust when it is not empty, or skips the test when Node or the npm
// package is missing.
func runC2PAWasm(t *testing.T, trust string, files ...string) map[string]wasmResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the c2pa-rs (WebAssembly) check needs it")
	}
	if _, err := os.Stat(wasmPackage); err != nil {
		t.Skip("@contentauth/c2pa-wasm is not installed; run: npm install --prefix c2pa/testdata --no-save @contentauth/c2pa-wasm@" + c2paWasmVersion)
	}
	args := []string{"testdata/verify.mjs"}
	if trust != "" {
		args = append(args, "--trust", trust)
	}
	cmd := exec.Command(node, append(args, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]wasmResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r wasmResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("verify.mjs output %q: %v", sc.Text(), err)
		}
		results[filepath.Base(r.File)] = r
	}
	if len(results) != len(files) {
		t.Fatalf("verify.mjs gave %d results for %d files:\n%s", len(results), len(files), out)
	}
	return results
}

// c2paWasmVersion is the @contentauth/c2pa-wasm release the tests are run
// with (.ci/run pins the same).
const c2paWasmVersion = "0.15.0"

func TestC2PAWasm(t *testing.T) {
	pki := newTestPKI(t)
	s := pki.signer(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pki.CA, 0o644); err != nil {
		t.Fatal(err)
	}
	signedPNG, err := Sign(testPNG(t), testManifest(0), s)
	if err != nil {
		t.Fatal(err)
	}
	signedJPEG, err := Sign(testJPEG(t, true), testManifest(0), s)
	if err != nil {
		t.Fatal(err)
	}
	splitJPEG, err := Sign(testJPEG(t, false), testManifest(150_000), s)
	if err != nil {
		t.Fatal(err)
	}
	foreignJPEG, err := Sign(withForeignJUMBF(testJPEG(t, false)), testManifest(0), s)
	if err != nil {
		t.Fatal(err)
	}
	type file struct {
		name   string
		data   []byte
		state  string // c2pa-rs validation_state with the test CA trusted
		failed string // a failure code c2pa-rs must report
	}
	files := []file{
		{"signed.png", signedPNG, "Trusted", ""},
		{"signed.jpg", signedJPEG, "Trusted", ""},
		{"split.jpg", splitJPEG, "Trusted", ""},
		{"foreign.jpg", foreignJPEG, "Trusted", ""},
		{"pixels.png", tamperPixels(t, signedPNG), "Invalid", StatusDataHashMismatch},
		{"pixels.jpg", tamperPixels(t, signedJPEG), "Invalid", StatusDataHashMismatch},
		{"signature.png", tamperSignature(t, signedPNG), "Invalid", StatusClaimSignatureMismatch},
		{"assertion.jpg", tamperAssertion(t, signedJPEG), "Invalid", StatusHashedURIMismatch},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	trusted := runC2PAWasm(t, caFile, paths...)
	untrusted := runC2PAWasm(t, "", paths...)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			got := trusted[f.name]
			if got.Error != "" {
				t.Fatalf("c2pa-rs refused the file: %s", got.Error)
			}
			t.Logf("c2pa-rs: state %s, failures %v", got.State, got.Failure)
			if got.State != f.state {
				t.Errorf("c2pa-rs state %q, want %q; failures %v", got.State, f.state, got.Failure)
			}
			ours, err := Verify(f.data, VerifyOptions{Roots: pki.roots()})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(ours.State(), got.State) {
				t.Errorf("Verify says %q, c2pa-rs %q", ours.State(), got.State)
			}
			if f.failed != "" {
				if !slices.Contains(got.Failure, f.failed) {
					t.Errorf("c2pa-rs failures %v, want %s among them", got.Failure, f.failed)
				}
				return
			}
			for _, c := range []string{StatusSigningCredentialTrust, StatusClaimSignatureValidated, StatusDataHashMatch, StatusHashedURIMatch} {
				if !slices.Contains(got.Success, c) {
					t.Errorf("c2pa-rs successes %v, want %s among them", got.Success, c)
				}
			}
			if got.ClaimVersion != 2 {
				t.Errorf("claim version %d, want 2", got.ClaimVersion)
			}
			actions, _ := got.Assertions[labelActionsV2]["actions"].([]any)
			if len(actions) != 1 {
				t.Fatalf("c2pa.actions.v2: %v", got.Assertions[labelActionsV2])
			}
			a, _ := actions[0].(map[string]any)
			agent, _ := a["softwareAgent"].(map[string]any)
			if a["action"] != ActionCreated || a["digitalSourceType"] != TrainedAlgorithmicMedia || agent["name"] != "imagegen" {
				t.Errorf("action %v, want c2pa.created by imagegen, trainedAlgorithmicMedia", a)
			}
			gen := got.Assertions[LabelGeneration]
			params, _ := gen["parameters"].(map[string]any)
			if gen["model"] != "shapes" || params["seed"] != 7.0 || params["prompt"] != "a red circle above a blue square" {
				t.Errorf("generation assertion %v", gen)
			}
			// Without the test CA among its anchors, c2pa-rs still finds the
			// manifest valid, with an untrusted signer.
			u := untrusted[f.name]
			if u.State != "Valid" || !slices.Equal(u.Failure, []string{StatusSigningCredentialUntr}) {
				t.Errorf("untrusted: state %q failures %v, want Valid with only %s", u.State, u.Failure, StatusSigningCredentialUntr)
			}
		})
	}
}
