package c2pa

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Validation status codes Verify reports, as the C2PA specification and
// c2pa-rs name them.
const (
	StatusClaimSignatureValidated    = "claimSignature.validated"
	StatusClaimSignatureMismatch     = "claimSignature.mismatch"
	StatusClaimMalformed             = "claim.malformed"
	StatusClaimMissing               = "claim.missing"
	StatusAlgorithmUnsupported       = "algorithm.unsupported"
	StatusSigningCredentialTrusted   = "signingCredential.trusted"
	StatusSigningCredentialUntrusted = "signingCredential.untrusted"
	StatusSigningCredentialInvalid   = "signingCredential.invalid"
	StatusSigningCredentialExpired   = "signingCredential.expired"
	StatusHashedURIMatch             = "assertion.hashedURI.match"
	StatusHashedURIMismatch          = "assertion.hashedURI.mismatch"
	StatusAssertionMissing           = "assertion.missing"
	StatusDataHashMatch              = "assertion.dataHash.match"
	StatusDataHashMismatch           = "assertion.dataHash.mismatch"
	StatusDataHashMalformed          = "assertion.dataHash.malformed"
	StatusDataHashExtraExclusions    = "assertion.dataHash.additionalExclusionsPresent"
	StatusHardBindingMissing         = "claim.hardBindings.missing"
)

// Status is one validation result: a C2PA status code, what it means
// here, and the JUMBF URI of the box it is about.
type Status struct {
	Code        string `json:"code"`
	Explanation string `json:"explanation"`
	URL         string `json:"url,omitempty"`
}

// Action is one entry of the manifest's actions assertion.
type Action struct {
	Action            string `json:"action"`
	DigitalSourceType string `json:"digitalSourceType,omitempty"`
	SoftwareAgent     string `json:"softwareAgent,omitempty"`
}

// CertInfo describes the signing certificate.
type CertInfo struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serial_number"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
}

// Report is what Verify found in a file's active manifest.
type Report struct {
	Format       Format         `json:"format"`
	Label        string         `json:"label"`
	ClaimVersion int            `json:"claim_version"`
	Generator    []Agent        `json:"claim_generator_info,omitempty"`
	Title        string         `json:"title,omitempty"`
	Actions      []Action       `json:"actions,omitempty"`
	Model        string         `json:"model,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Signer       *CertInfo      `json:"signer,omitempty"`
	// Trusted reports that the signing chain leads to one of
	// VerifyOptions.Roots.
	Trusted bool     `json:"trusted"`
	Success []Status `json:"success"`
	Failure []Status `json:"failure"`
	// Informational results do not affect validity: data-hash exclusions
	// besides the manifest's, which leave those bytes unprotected.
	Informational []Status `json:"informational"`
}

// Valid reports whether the manifest passed every check: the claim
// signature, every assertion hash and the data hash match. A signer
// outside the trust roots (signingCredential.untrusted) does not make a
// manifest invalid, as in c2pa-rs's "Valid" validation state; Trusted
// tells the two apart.
func (r *Report) Valid() bool {
	for _, s := range r.Failure {
		if s.Code != StatusSigningCredentialUntrusted {
			return false
		}
	}
	return true
}

// State is "trusted", "valid" or "invalid" (c2pa-rs's validation states).
func (r *Report) State() string {
	switch {
	case !r.Valid():
		return "invalid"
	case r.Trusted:
		return "trusted"
	}
	return "valid"
}

// VerifyOptions configure Verify. The zero value trusts no signer.
type VerifyOptions struct {
	// Roots are the trust anchors for the signing certificate chain; nil
	// means none (signatures can still be valid, but not trusted).
	Roots *x509.CertPool
	// Now is the time at which certificates must be valid; zero means
	// time.Now().
	Now time.Time
}

// Verify reads and checks the active (last) manifest of the PNG or JPEG
// file data. It returns ErrNoManifest when there is none,
// ErrUnsupportedFormat or a *FormatError when the file cannot be parsed;
// a manifest that fails a check (bad signature, changed pixels, malformed
// boxes) is not an error: the Report lists the failures and Valid is
// false.
func Verify(data []byte, opts VerifyOptions) (*Report, error) {
	f, err := DetectFormat(data)
	if err != nil {
		return nil, err
	}
	raw, where, err := findStore(f, data)
	if err != nil {
		return nil, err
	}
	r := &Report{Format: f, Success: []Status{}, Failure: []Status{}, Informational: []Status{}}
	v := verifier{data: data, where: where, opts: opts, r: r}
	v.run(raw)
	return r, nil
}

type verifier struct {
	data  []byte
	where span
	opts  VerifyOptions
	r     *Report
	base  string // "self#jumbf=/c2pa/LABEL/"
}

func (v *verifier) pass(code, url, format string, args ...any) {
	v.r.Success = append(v.r.Success, Status{Code: code, URL: url, Explanation: fmt.Sprintf(format, args...)})
}

func (v *verifier) fail(code, url, format string, args ...any) {
	v.r.Failure = append(v.r.Failure, Status{Code: code, URL: url, Explanation: fmt.Sprintf(format, args...)})
}

func (v *verifier) run(raw []byte) {
	store, err := parseSuperbox(raw)
	if err != nil {
		v.fail(StatusClaimMalformed, "", "manifest store: %v", err)
		return
	}
	if store.typ != typeStore || len(store.children) == 0 {
		v.fail(StatusClaimMalformed, "", "manifest store: no c2pa store with a manifest")
		return
	}
	m := store.children[len(store.children)-1]
	v.r.Label = m.label
	v.base = "self#jumbf=/" + labelStore + "/" + m.label + "/"
	claimBox := m.child(labelClaimV2)
	v.r.ClaimVersion = 2
	if claimBox == nil {
		claimBox, v.r.ClaimVersion = m.child(labelClaimV1), 1
	}
	if claimBox == nil || claimBox.contentType != "cbor" {
		v.fail(StatusClaimMissing, v.base, "manifest %s has no CBOR claim box", m.label)
		return
	}
	var c claim
	if err := decMode.Unmarshal(claimBox.content, &c); err != nil {
		v.fail(StatusClaimMalformed, v.base+claimBox.label, "claim: %v", err)
		return
	}
	v.r.Title = c.Title
	v.r.Generator = generatorInfo(c.ClaimGeneratorInfo)
	v.checkSignature(m, claimBox.content)
	refs := append(append(append([]hashedURI{}, c.Assertions...), c.CreatedAssertions...), c.GatheredAssertions...)
	v.checkAssertions(m.child(labelAssertions), refs)
}

// checkSignature verifies the claim's COSE_Sign1 and its certificates.
func (v *verifier) checkSignature(m *superbox, claimBytes []byte) {
	url := v.base + labelSignature
	sigBox := m.child(labelSignature)
	if sigBox == nil || sigBox.contentType != "cbor" {
		v.fail(StatusClaimSignatureMismatch, url, "no claim signature box")
		return
	}
	cose, err := parseCOSE(sigBox.content)
	if err != nil {
		v.fail(StatusClaimSignatureMismatch, url, "%v", err)
		return
	}
	leaf := cose.chain[0]
	v.r.Signer = &CertInfo{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), SerialNumber: leaf.SerialNumber.String(),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
	}
	if err := cose.verify(claimBytes); err != nil {
		code := StatusClaimSignatureMismatch
		if errors.Is(err, errUnsupportedAlg) {
			code = StatusAlgorithmUnsupported
		}
		v.fail(code, url, "claim signature: %v", err)
		return
	}
	v.pass(StatusClaimSignatureValidated, url, "claim signature valid (%s)", leaf.Subject)
	now := v.opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		v.fail(StatusSigningCredentialExpired, url, "signing certificate valid from %s to %s only", leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
		return
	}
	if err := checkLeafProfile(leaf); err != nil {
		v.fail(StatusSigningCredentialInvalid, url, "signing certificate: %v", err)
		return
	}
	if v.opts.Roots != nil { // never the system roots: they are for TLS
		inter := x509.NewCertPool()
		for _, c := range cose.chain[1:] {
			inter.AddCert(c)
		}
		_, err = leaf.Verify(x509.VerifyOptions{
			Roots: v.opts.Roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			v.r.Trusted = true
			v.pass(StatusSigningCredentialTrusted, url, "signing certificate trusted")
			return
		}
	}
	if err := checkChainLinks(cose.chain); err != nil {
		v.fail(StatusSigningCredentialInvalid, url, "certificate chain: %v", err)
		return
	}
	v.fail(StatusSigningCredentialUntrusted, url, "signing certificate untrusted")
}

// checkLeafProfile applies the C2PA end-entity certificate rules that
// matter for a signature made now: not a CA, the digitalSignature key
// usage, and an extended key usage other than "any".
func checkLeafProfile(c *x509.Certificate) error {
	switch {
	case c.IsCA:
		return errors.New("a CA certificate signed the claim")
	case c.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return errors.New("no digitalSignature key usage")
	case len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0:
		return errors.New("no extended key usage")
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageAny {
			return errors.New("the 'any' extended key usage is not allowed")
		}
	}
	return nil
}

// checkChainLinks checks that each certificate of the chain is signed by
// the next, so an untrusted chain is at least a chain. Links that
// crypto/x509 cannot check (RSASSA-PSS issuer keys) are passed over: an
// untrusted chain is reported as such either way.
func checkChainLinks(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		err := chain[i].CheckSignatureFrom(chain[i+1])
		if errors.Is(err, x509.ErrUnsupportedAlgorithm) {
			continue
		}
		if err != nil {
			return fmt.Errorf("certificate %d (%s) is not signed by the next: %v", i+1, chain[i].Subject, err)
		}
	}
	return nil
}

// checkAssertions checks each assertion the claim names against its hash
// and reads the ones this package knows.
func (v *verifier) checkAssertions(store *superbox, refs []hashedURI) {
	hardBindings := 0
	for _, ref := range refs {
		label, ok := assertionLabel(ref.URL)
		var box *superbox
		if ok && store != nil {
			box = store.child(label)
		}
		url := v.base + labelAssertions + "/" + label
		if box == nil {
			v.fail(StatusAssertionMissing, url, "assertion %s named by the claim is missing", ref.URL)
			continue
		}
		if ref.Alg != "" && ref.Alg != hashAlg {
			v.fail(StatusAlgorithmUnsupported, url, "hash algorithm %q (this reader checks %s)", ref.Alg, hashAlg)
			continue
		}
		if !bytes.Equal(assertionHash(box), ref.Hash) {
			v.fail(StatusHashedURIMismatch, url, "hash of %s does not match the claim", ref.URL)
			continue
		}
		v.pass(StatusHashedURIMatch, url, "hashed uri matched: %s", ref.URL)
		switch {
		case label == labelDataHash:
			hardBindings++
			v.checkDataHash(box, url)
		case label == labelActionsV2 || label == labelActionsV1:
			v.readActions(box)
		case label == LabelGeneration:
			var g generationAssertion
			if box.contentType == "cbor" && decMode.Unmarshal(box.content, &g) == nil {
				v.r.Model, v.r.Parameters = g.Model, g.Parameters
			}
		}
	}
	if hardBindings == 0 {
		v.fail(StatusHardBindingMissing, v.base, "the claim has no c2pa.hash.data assertion")
	}
}

// assertionLabel returns the assertion label of a claim's hashed URI
// (relative "self#jumbf=c2pa.assertions/L" or absolute ".../c2pa.assertions/L").
func assertionLabel(uri string) (string, bool) {
	i := strings.LastIndex(uri, labelAssertions+"/")
	if !strings.HasPrefix(uri, "self#jumbf=") || i < 0 {
		return "", false
	}
	return uri[i+len(labelAssertions)+1:], true
}

// checkDataHash recomputes the hash of the file outside the exclusions,
// which must cover the manifest store's container exactly.
func (v *verifier) checkDataHash(box *superbox, url string) {
	var dh dataHash
	if box.contentType != "cbor" || decMode.Unmarshal(box.content, &dh) != nil {
		v.fail(StatusDataHashMalformed, url, "data hash assertion is not a CBOR data hash")
		return
	}
	if dh.Alg != "" && dh.Alg != hashAlg {
		v.fail(StatusAlgorithmUnsupported, url, "data hash algorithm %q (this reader checks %s)", dh.Alg, hashAlg)
		return
	}
	if len(dh.Exclusions) > 1 {
		v.r.Informational = append(v.r.Informational, Status{Code: StatusDataHashExtraExclusions, URL: url,
			Explanation: fmt.Sprintf("%d data hash exclusions: bytes besides the manifest's are not covered", len(dh.Exclusions))})
	}
	at := 0
	covered := false
	for _, e := range dh.Exclusions {
		if e.Start < at || e.Length < 0 || e.Start+e.Length > len(v.data) {
			v.fail(StatusDataHashMalformed, url, "exclusion {start %d, length %d} outside the file or out of order", e.Start, e.Length)
			return
		}
		covered = covered || (e.Start <= v.where.Start && e.Start+e.Length >= v.where.Start+v.where.Length)
		at = e.Start + e.Length
	}
	if !covered {
		v.fail(StatusDataHashMismatch, url, "no exclusion covers the manifest at bytes %d..%d", v.where.Start, v.where.Start+v.where.Length)
		return
	}
	if !bytes.Equal(hashExcluding(v.data, dh.Exclusions), dh.Hash) {
		v.fail(StatusDataHashMismatch, url, "the file's bytes do not match the data hash (the file was changed after signing)")
		return
	}
	v.pass(StatusDataHashMatch, url, "data hash valid")
}

func (v *verifier) readActions(box *superbox) {
	var a actionsAssertion
	if box.contentType != "cbor" || decMode.Unmarshal(box.content, &a) != nil {
		return
	}
	for _, x := range a.Actions {
		act := Action{Action: x.Action, DigitalSourceType: x.DigitalSourceType}
		if ag := generatorInfo(x.SoftwareAgent); len(ag) == 1 {
			act.SoftwareAgent = strings.TrimSpace(ag[0].Name + " " + ag[0].Version)
		}
		v.r.Actions = append(v.r.Actions, act)
	}
}

// generatorInfo reads claim_generator_info or a softwareAgent: a map
// {name, version}, an array of them (claim v1), or a plain string.
func generatorInfo(x any) []Agent {
	switch t := x.(type) {
	case string:
		return []Agent{{Name: t}}
	case map[string]any:
		name, _ := t["name"].(string)
		version, _ := t["version"].(string)
		return []Agent{{Name: name, Version: version}}
	case []any:
		var out []Agent
		for _, e := range t {
			out = append(out, generatorInfo(e)...)
		}
		return out
	}
	return nil
}
