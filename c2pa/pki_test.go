package c2pa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// testPKI is NewTestCredentials parsed for the tests.
type testPKI struct {
	*TestCredentials
	ca *x509.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	creds, err := NewTestCredentials(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(creds.CA)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{TestCredentials: creds, ca: ca}
}

func (p *testPKI) signer(t testing.TB) *Signer {
	t.Helper()
	s, err := LoadSigner(p.Key, p.Chain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
