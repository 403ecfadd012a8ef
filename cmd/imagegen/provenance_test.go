package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/imageio"
	"github.com/imagegen/imagegen/internal/c2patest"
	"github.com/imagegen/imagegen/internal/conformance"
	"github.com/imagegen/imagegen/internal/testort"
)

// c2paFiles writes test credentials into dir and returns the paths of
// the key, the chain and the CA.
func c2paFiles(t *testing.T, dir string) (key, chain, ca string) {
	t.Helper()
	creds, err := c2pa.NewTestCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, chain, ca = filepath.Join(dir, "key.pem"), filepath.Join(dir, "chain.pem"), filepath.Join(dir, "ca.pem")
	for p, b := range map[string][]byte{key: creds.Key, chain: creds.Chain, ca: creds.CA} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return key, chain, ca
}

// exitCode is the status main would exit with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

func TestProvenanceExitCodes(t *testing.T) {
	dir := t.TempDir()
	key, chain, ca := c2paFiles(t, dir)
	signer, err := c2pa.LoadSignerFiles(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	var png bytes.Buffer
	if err := imageio.EncodePNG(&png, image.NewNRGBA(image.Rect(0, 0, 8, 8)), imageio.Metadata{}); err != nil {
		t.Fatal(err)
	}
	m, err := c2paManifest("x.png", "shapes", `{"prompt":"x","seed":3}`)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := c2pa.Sign(png.Bytes(), m, signer)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(signed)
	tampered[len(tampered)-30] ^= 0x40 // in IDAT's compressed data or CRC
	files := map[string][]byte{
		"signed.png": signed, "plain.png": png.Bytes(), "tampered.png": tampered,
		"truncated.png": signed[:len(signed)-9], "text.png": []byte("not a picture"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		status string // --json status; "" for errors
	}{
		{"trusted", []string{"signed.png", "--trust", ca}, 0, "trusted"},
		{"untrusted", []string{"signed.png"}, 0, "valid"},
		{"no manifest", []string{"plain.png"}, 1, "none"},
		{"tampered", []string{"tampered.png"}, 2, ""}, // the PNG's CRC no longer matches
		{"truncated", []string{"truncated.png"}, 2, ""},
		{"not a picture", []string{"text.png"}, 2, ""},
		{"missing file", []string{"nope.png"}, 2, ""},
		{"bad trust file", []string{"signed.png", "--trust", filepath.Join(dir, "plain.png")}, 2, ""},
		{"two files", []string{"signed.png", "plain.png"}, 2, ""},
		{"unknown flag", []string{"--nope", "signed.png"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"provenance", "--json"}
			for _, a := range tt.args {
				if strings.HasSuffix(a, ".png") && !filepath.IsAbs(a) {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			out, err := runCLI(t, args...)
			if got := exitCode(err); got != tt.code {
				t.Fatalf("exit code %d (%v), want %d", got, err, tt.code)
			}
			if tt.status == "" {
				if err == nil || err.Error() == "" {
					t.Errorf("exit code 2 without an error message")
				}
				return
			}
			var res struct {
				Status   string `json:"status"`
				Manifest *struct {
					Model      string         `json:"model"`
					Parameters map[string]any `json:"parameters"`
				} `json:"manifest"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("--json printed %q: %v", out, err)
			}
			if res.Status != tt.status {
				t.Errorf("status %q, want %q", res.Status, tt.status)
			}
			if tt.code == 0 && (res.Manifest == nil || res.Manifest.Model != "shapes" || res.Manifest.Parameters["prompt"] != "x") {
				t.Errorf("manifest %+v, want model shapes and prompt x", res.Manifest)
			}
		})
	}

	// A changed pixel with the PNG's CRCs right is an invalid manifest
	// (exit 1), and the text output says so.
	repaired := fixPNGCRCs(t, tampered)
	p := filepath.Join(dir, "repaired.png")
	if err := os.WriteFile(p, repaired, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "provenance", p)
	if exitCode(err) != 1 || !strings.Contains(out, "INVALID") || !strings.Contains(out, "assertion.dataHash.mismatch") {
		t.Errorf("exit %d, output %q; want 1 and the data hash failure", exitCode(err), out)
	}
}

// fixPNGCRCs recomputes the CRC of every chunk of a PNG.
func fixPNGCRCs(t *testing.T, b []byte) []byte {
	t.Helper()
	out := bytes.Clone(b)
	for off := 8; off+12 <= len(out); {
		n := int(uint32(out[off])<<24 | uint32(out[off+1])<<16 | uint32(out[off+2])<<8 | uint32(out[off+3]))
		end := off + 12 + n
		crc := crc32.ChecksumIEEE(out[off+4 : end-4])
		out[end-4], out[end-3], out[end-2], out[end-1] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
		off = end
	}
	return out
}

func TestGenerateC2PA(t *testing.T) {
	testort.Init(t)
	model := conformance.Dir(t, "sd1-tiny")
	dir := t.TempDir()
	key, chain, ca := c2paFiles(t, dir)
	out := filepath.Join(dir, "signed.png")
	if _, err := runGenerateCLI(t, "generate", "a red circle", "--model", model, "--steps", "1", "--seed", "5",
		"--c2pa-key", key, "--c2pa-cert", chain, "-o", out); err != nil {
		t.Fatal(err)
	}
	text, err := imageio.ReadPNGText(out)
	if err != nil || !strings.HasPrefix(text["parameters"], "a red circle") {
		t.Errorf("signed PNG text %v, %v; want the parameters kept", text, err)
	}
	stdout, err := runCLI(t, "provenance", out, "--trust", ca, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Status   string      `json:"status"`
		Manifest c2pa.Report `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	r := res.Manifest
	if res.Status != "trusted" || r.Model != "sd1-tiny" || r.Parameters["prompt"] != "a red circle" || r.Parameters["seed"] != 5.0 {
		t.Errorf("status %q model %q parameters %v", res.Status, r.Model, r.Parameters)
	}
	if len(r.Actions) != 1 || r.Actions[0].DigitalSourceType != c2pa.TrainedAlgorithmicMedia || !strings.HasPrefix(r.Actions[0].SoftwareAgent, "imagegen") {
		t.Errorf("actions %+v", r.Actions)
	}
	t.Run("c2pa-rs", func(t *testing.T) { checkWithC2PARS(t, ca, out) })

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"key without chain", []string{"--c2pa-key", key}, "go together"},
		{"npy output", []string{"--c2pa-key", key, "--c2pa-cert", chain, "-o", filepath.Join(dir, "bad.npy")}, "signs PNG outputs"},
		{"wrong curve", []string{"--c2pa-key", writeP384Key(t, dir), "--c2pa-cert", chain}, "P-384"},
		{"missing key", []string{"--c2pa-key", filepath.Join(dir, "nope.pem"), "--c2pa-cert", chain}, "no such file"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			o := filepath.Join(dir, "bad-"+strings.ReplaceAll(tc.name, " ", "-")+".png")
			args := append([]string{"generate", "x", "--model", model, "--steps", "1", "-o", o}, tc.args...)
			_, err := runGenerateCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if exists(o) {
				t.Errorf("%s written despite the error", o)
			}
		})
	}
}

func writeP384Key(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	p := filepath.Join(dir, "p384.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkWithC2PARS has c2pa-rs read file, trusting ca (skipped without
// Node and the npm package; see internal/c2patest).
func checkWithC2PARS(t *testing.T, ca, file string) {
	t.Helper()
	res := c2patest.Read(t, ca, file)[filepath.Base(file)]
	if res.State != "Trusted" {
		t.Errorf("c2pa-rs: state %q, failures %v, error %q; want Trusted", res.State, res.Failure, res.Error)
	}
}
