package c2pa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for ES384/512, PS384/512
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/fxamacker/cbor/v2"
)

// The claim signature is a COSE_Sign1 (RFC 9052) with a detached payload
// (the claim's CBOR): protected header {1: alg, 33: x5chain}, an empty
// unprotected header, a nil payload and the raw r||s ECDSA signature.

const (
	coseSign1Tag   = 18
	headerAlg      = 1
	headerX5Chain  = 33
	algES256       = -7
	algES384       = -35
	algES512       = -36
	sigContextSig1 = "Signature1"
)

// Signer signs C2PA claims with ES256: an ECDSA P-256 key and the
// certificate chain of its public key (end-entity certificate first, then
// intermediates; the root may be left out). A Signer is safe for
// concurrent use.
type Signer struct {
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate
}

// NewSigner returns a Signer for key and chain. It returns an error
// wrapping ErrKey when key is not on P-256, chain is empty, or chain[0]
// is not key's certificate.
func NewSigner(key *ecdsa.PrivateKey, chain []*x509.Certificate) (*Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrKey)
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key is on %s; ES256 needs P-256", ErrKey, key.Curve.Params().Name)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: empty certificate chain", ErrKey)
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%w: the chain's first certificate (%s) is not the key's", ErrKey, chain[0].Subject)
	}
	return &Signer{key: key, chain: chain}, nil
}

// LoadSigner reads a PEM private key (SEC 1 "EC PRIVATE KEY" or PKCS #8
// "PRIVATE KEY") and a PEM certificate chain, end-entity certificate
// first, as NewSigner takes them.
func LoadSigner(keyPEM, chainPEM []byte) (*Signer, error) {
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	for rest := chainPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrKey, len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block in the chain PEM", ErrKey)
	}
	return NewSigner(key, chain)
}

// LoadSignerFiles is LoadSigner on the contents of two files.
func LoadSignerFiles(keyPath, chainPath string) (*Signer, error) {
	k, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("c2pa: signing key: %w", err)
	}
	c, err := os.ReadFile(chainPath)
	if err != nil {
		return nil, fmt.Errorf("c2pa: certificate chain: %w", err)
	}
	s, err := LoadSigner(k, c)
	if err != nil {
		return nil, fmt.Errorf("%w (key %s, chain %s)", err, keyPath, chainPath)
	}
	return s, nil
}

func parseKeyPEM(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no PRIVATE KEY block in the key PEM", ErrKey)
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrKey, err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrKey, err)
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("%w: a %T key; ES256 needs ECDSA P-256", ErrKey, k)
			}
			return ec, nil
		}
	}
}

// protectedHeader is the COSE protected header Sign writes.
func (s *Signer) protectedHeader() ([]byte, error) {
	certs := make([][]byte, len(s.chain))
	for i, c := range s.chain {
		certs[i] = c.Raw
	}
	return encMode.Marshal(map[int]any{headerAlg: algES256, headerX5Chain: certs})
}

// sigStructure is the COSE Sig_structure that is signed, with an empty
// external AAD and the detached payload.
func sigStructure(protected, payload []byte) ([]byte, error) {
	return encMode.Marshal([]any{sigContextSig1, protected, []byte{}, payload})
}

// sign returns the tagged COSE_Sign1 over payload. With zero set it writes
// a signature of zeros of the same size (to lay out the manifest).
func (s *Signer) sign(payload []byte, zero bool) ([]byte, error) {
	protected, err := s.protectedHeader()
	if err != nil {
		return nil, err
	}
	sig := make([]byte, es256SignatureSz)
	if !zero {
		tbs, err := sigStructure(protected, payload)
		if err != nil {
			return nil, err
		}
		digest := sha256.Sum256(tbs)
		r, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
		if err != nil {
			return nil, fmt.Errorf("c2pa: sign claim: %w", err)
		}
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	}
	return encMode.Marshal(cbor.Tag{Number: coseSign1Tag, Content: []any{protected, map[int]any{}, nil, sig}})
}

// coseSign1 is a parsed COSE_Sign1.
type coseSign1 struct {
	protected []byte
	alg       int64
	chain     []*x509.Certificate
	signature []byte
}

var errCOSE = errors.New("malformed COSE_Sign1")

// parseCOSE reads a tagged COSE_Sign1 and its alg and x5chain headers.
func parseCOSE(b []byte) (*coseSign1, error) {
	var tag cbor.RawTag
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, fmt.Errorf("%w: %v", errCOSE, err)
	}
	if tag.Number != coseSign1Tag {
		return nil, fmt.Errorf("%w: CBOR tag %d, want %d", errCOSE, tag.Number, coseSign1Tag)
	}
	var parts []cbor.RawMessage
	if err := decMode.Unmarshal(tag.Content, &parts); err != nil || len(parts) != 4 {
		return nil, fmt.Errorf("%w: not an array of 4", errCOSE)
	}
	var c coseSign1
	if err := decMode.Unmarshal(parts[0], &c.protected); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", errCOSE, err)
	}
	if err := decMode.Unmarshal(parts[3], &c.signature); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", errCOSE, err)
	}
	var prot, unprot map[any]cbor.RawMessage
	if err := decMode.Unmarshal(c.protected, &prot); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", errCOSE, err)
	}
	if err := decMode.Unmarshal(parts[1], &unprot); err != nil {
		return nil, fmt.Errorf("%w: unprotected header: %v", errCOSE, err)
	}
	if err := decMode.Unmarshal(prot[uint64(headerAlg)], &c.alg); err != nil {
		return nil, fmt.Errorf("%w: no alg in the protected header", errCOSE)
	}
	x5 := prot[uint64(headerX5Chain)]
	if x5 == nil {
		x5 = prot["x5chain"]
	}
	if x5 == nil {
		x5 = unprot["x5chain"]
	}
	if x5 == nil {
		return nil, fmt.Errorf("%w: no x5chain header", errCOSE)
	}
	var ders [][]byte
	if err := decMode.Unmarshal(x5, &ders); err != nil {
		var one []byte
		if err := decMode.Unmarshal(x5, &one); err != nil {
			return nil, fmt.Errorf("%w: x5chain is neither a certificate nor an array of them", errCOSE)
		}
		ders = [][]byte{one}
	}
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5chain certificate %d: %v", errCOSE, i+1, err)
		}
		c.chain = append(c.chain, cert)
	}
	if len(c.chain) == 0 {
		return nil, fmt.Errorf("%w: empty x5chain", errCOSE)
	}
	return &c, nil
}

// errUnsupportedAlg is a COSE algorithm other than those C2PA allows.
var errUnsupportedAlg = errors.New("unsupported signature algorithm")

// COSE algorithms C2PA allows besides ES256/384/512.
const (
	algPS256 = -37
	algPS384 = -38
	algPS512 = -39
	algEdDSA = -8
)

// verify checks c's signature over payload with the first certificate's
// key, for every algorithm C2PA allows (ES256/384/512, PS256/384/512,
// Ed25519), so manifests signed by other tools can be read too.
func (c *coseSign1) verify(payload []byte) error {
	tbs, err := sigStructure(c.protected, payload)
	if err != nil {
		return err
	}
	var h crypto.Hash
	switch c.alg {
	case algES256, algPS256:
		h = crypto.SHA256
	case algES384, algPS384:
		h = crypto.SHA384
	case algES512, algPS512:
		h = crypto.SHA512
	case algEdDSA:
	default:
		return fmt.Errorf("%w: COSE alg %d (C2PA allows ES256/384/512, PS256/384/512, Ed25519)", errUnsupportedAlg, c.alg)
	}
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write(tbs)
		digest = d.Sum(nil)
	}
	mismatch := errors.New("the signature does not match the claim")
	switch pub := publicKey(c.chain[0]).(type) {
	case *ecdsa.PublicKey:
		want := map[int64]elliptic.Curve{algES256: elliptic.P256(), algES384: elliptic.P384(), algES512: elliptic.P521()}[c.alg]
		if pub.Curve != want {
			return fmt.Errorf("an ECDSA %s certificate key does not fit COSE alg %d", pub.Curve.Params().Name, c.alg)
		}
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(c.signature) != 2*n {
			return fmt.Errorf("signature of %d bytes, want %d", len(c.signature), 2*n)
		}
		r := new(big.Int).SetBytes(c.signature[:n])
		s := new(big.Int).SetBytes(c.signature[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return mismatch
		}
	case *rsa.PublicKey:
		if c.alg != algPS256 && c.alg != algPS384 && c.alg != algPS512 {
			return fmt.Errorf("an RSA certificate key does not fit COSE alg %d", c.alg)
		}
		if rsa.VerifyPSS(pub, h, digest, c.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return mismatch
		}
	case ed25519.PublicKey:
		if c.alg != algEdDSA {
			return fmt.Errorf("an Ed25519 certificate key does not fit COSE alg %d", c.alg)
		}
		if !ed25519.Verify(pub, tbs, c.signature) {
			return mismatch
		}
	default:
		return fmt.Errorf("%w: a %T certificate key", errUnsupportedAlg, pub)
	}
	return nil
}

// publicKey returns cert's public key, reading the RSA key of an
// RSASSA-PSS certificate (id-RSASSA-PSS key algorithm, as C2PA's PS256
// test certificates have), which crypto/x509 leaves nil.
func publicKey(cert *x509.Certificate) any {
	if cert.PublicKey != nil {
		return cert.PublicKey
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil || !spki.Algorithm.Algorithm.Equal(oidRSASSAPSS) {
		return nil
	}
	k, err := x509.ParsePKCS1PublicKey(spki.PublicKey.RightAlign())
	if err != nil {
		return nil
	}
	return k
}

var oidRSASSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
