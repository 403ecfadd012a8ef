package engine

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/internal/c2patest"
	"github.com/imagegen/imagegen/jobqueue"
)

// TestRunC2PA checks that an engine with a signer puts a C2PA manifest in
// its PNG and JPEG pictures, and one without leaves them unsigned.
func TestRunC2PA(t *testing.T) {
	creds, err := c2pa.NewTestCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := c2pa.LoadSigner(creds.Key, creds.Chain)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(creds.CA)
	plain := New(builtinCache(t), Limits{})
	e := plain.WithC2PA(signer, c2pa.Agent{Name: "imagegen", Version: "test"})
	dir := t.TempDir()
	var files []string
	for _, format := range []string{"png", "jpeg"} {
		spec := jobqueue.Spec{Model: "default", Prompt: "a red circle", Steps: 2, Seed: 3, Format: format}
		out, err := e.Run(context.Background(), spec, func(jobqueue.Step) {})
		if err != nil {
			t.Fatal(err)
		}
		data := out.Images[0].Data
		r, err := c2pa.Verify(data, c2pa.VerifyOptions{Roots: roots})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if r.State() != "trusted" || r.Model != "default" || r.Parameters["prompt"] != "a red circle" || r.Parameters["seed"] != uint64(3) {
			t.Errorf("%s: state %s, model %q, parameters %v", format, r.State(), r.Model, r.Parameters)
		}
		p := filepath.Join(dir, "out."+format)
		if format == "jpeg" {
			p = filepath.Join(dir, "out.jpg")
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)

		out, err = plain.Run(context.Background(), spec, func(jobqueue.Step) {})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c2pa.Verify(out.Images[0].Data, c2pa.VerifyOptions{}); !errors.Is(err, c2pa.ErrNoManifest) {
			t.Errorf("%s without a signer: %v, want ErrNoManifest", format, err)
		}
	}
	t.Run("c2pa-rs", func(t *testing.T) {
		ca := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(ca, creds.CA, 0o644); err != nil {
			t.Fatal(err)
		}
		for name, res := range c2patest.Read(t, ca, files...) {
			if res.State != "Trusted" {
				t.Errorf("%s: c2pa-rs state %q, failures %v, error %q", name, res.State, res.Failure, res.Error)
			}
		}
	})
}
