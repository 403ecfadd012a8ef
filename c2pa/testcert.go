package c2pa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// TestCredentials are a throwaway certificate authority and a signing
// key with a certificate it issued, all PEM-encoded.
type TestCredentials struct {
	// CA is the authority's certificate: give it to Verify (Roots) or to
	// c2pa-rs as a trust anchor to have signatures reported as trusted.
	CA []byte
	// Key is the signer's ECDSA P-256 private key (PKCS #8).
	Key []byte
	// Chain is the signer's certificate followed by CA's, as LoadSigner
	// takes it.
	Chain []byte
}

// NewTestCredentials makes TestCredentials valid for the given time from
// now, for tests and for trying signing out. The signing certificate has
// the profile C2PA validators (c2pa-rs) require of an end-entity
// certificate: ECDSA with SHA-256, a critical digitalSignature key usage,
// the emailProtection extended key usage, subject and authority key
// identifiers, not a CA, issued by a CA that is not itself. Nothing
// trusts the CA unless told to.
func NewTestCredentials(valid time.Duration) (*TestCredentials, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "imagegen test CA", Organization: []string{"imagegen (test credentials)"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(valid),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId: keyID(&caKey.PublicKey),
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("c2pa: test CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "imagegen test signer", Organization: []string{"imagegen (test credentials)"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(valid),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("c2pa: test signing certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return &TestCredentials{
		CA:    caPEM,
		Key:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Chain: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), caPEM...),
	}, nil
}

// keyID is the RFC 5280 method 1 key identifier: SHA-1 of the public key.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	h := sha1.Sum(der)
	return h[:]
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(1)
	}
	return n.Add(n, big.NewInt(1))
}
