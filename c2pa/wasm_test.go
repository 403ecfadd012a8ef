package c2pa

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/internal/c2patest"
)

// The reference check: c2pa-rs, the C2PA reference implementation,
// compiled to WebAssembly (see internal/c2patest), reads the files Sign
// writes.

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
		state  string // c2pa-rs validation_state with the test CA trusted; "" when it must refuse the file
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
		// An unknown data hash algorithm in a properly signed claim: c2pa-rs
		// reports a data hash mismatch (Verify: algorithm.unsupported).
		{"hashalg.png", withDataHashAlg(t, signedPNG, "md5", s), "Invalid", StatusDataHashMismatch},
		// An unknown COSE algorithm: c2pa-rs refuses the file with an error.
		{"sigalg.png", withAlg(t, signedPNG, 999), "", ""},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	trusted := c2patest.Read(t, caFile, paths...)
	untrusted := c2patest.Read(t, "", paths...)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			got := trusted[f.name]
			if f.state == "" {
				if got.Error == "" {
					t.Errorf("c2pa-rs read the file (state %q, failures %v); want it refused", got.State, got.Failure)
				}
				if r, err := Verify(f.data, VerifyOptions{Roots: pki.roots()}); err != nil || r.Valid() {
					t.Errorf("Verify: %v, %v; want an invalid report", r, err)
				}
				return
			}
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
			for _, c := range []string{StatusSigningCredentialTrusted, StatusClaimSignatureValidated, StatusDataHashMatch, StatusHashedURIMatch} {
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
			if u.State != "Valid" || !slices.Equal(u.Failure, []string{StatusSigningCredentialUntrusted}) {
				t.Errorf("untrusted: state %q failures %v, want Valid with only %s", u.State, u.Failure, StatusSigningCredentialUntrusted)
			}
		})
	}
}
