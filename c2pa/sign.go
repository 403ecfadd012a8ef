package c2pa

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Format names the container of an asset.
type Format string

// The formats Sign and Verify handle.
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
)

// MIMEType returns the format's media type ("image/png", "image/jpeg").
func (f Format) MIMEType() string { return "image/" + string(f) }

// DetectFormat returns the format of data from its first bytes, or
// ErrUnsupportedFormat.
func DetectFormat(data []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(data, []byte(pngSignature)):
		return PNG, nil
	case bytes.HasPrefix(data, []byte{0xff, markerSOI, 0xff}):
		return JPEG, nil
	}
	return "", ErrUnsupportedFormat
}

// embed puts store into data, replacing any manifest store there, and
// returns the new file and the byte range the store's container takes.
func embed(f Format, data, store []byte) ([]byte, span, error) {
	if f == PNG {
		return pngEmbed(data, store)
	}
	return jpegEmbed(data, store)
}

// findStore returns data's manifest store and the byte range its
// container takes, ErrNoManifest, or a *FormatError.
func findStore(f Format, data []byte) ([]byte, span, error) {
	if f == PNG {
		return pngFindStore(data)
	}
	return jpegFindStore(data)
}

// Sign returns the PNG or JPEG file data with a signed C2PA manifest
// store embedded (a caBX chunk after IHDR, or APP11 segments after SOI or
// JFIF), replacing any store already there. The manifest has a c2pa.actions.v2
// assertion (c2pa.created, trainedAlgorithmicMedia, m.Generator as the
// software agent), m's model and parameters under LabelGeneration, and a
// c2pa.hash.data assertion over the whole file but the store; the claim
// (version 2) is signed with s as a COSE_Sign1 ES256.
func Sign(data []byte, m Manifest, s *Signer) ([]byte, error) {
	if s == nil {
		return nil, errors.New("c2pa: sign: no signer")
	}
	if m.Generator.Name == "" {
		return nil, errors.New("c2pa: sign: the manifest has no generator name")
	}
	f, err := DetectFormat(data)
	if err != nil {
		return nil, err
	}
	label, err := newUUID()
	if err != nil {
		return nil, fmt.Errorf("c2pa: sign: %w", err)
	}
	instance, err := newUUID()
	if err != nil {
		return nil, fmt.Errorf("c2pa: sign: %w", err)
	}
	b := builder{
		label:    "urn:c2pa:" + label,
		instance: "xmp:iid:" + instance,
		manifest: m,
		signer:   s,
	}
	if err := b.fixedAssertions(); err != nil {
		return nil, fmt.Errorf("c2pa: sign: %w", err)
	}
	// The data hash must name the byte range of the store it sits in, and
	// that range's length depends on how the numbers encode: lay the store
	// out with a zero hash and signature until the range stops moving (the
	// length only grows, so this ends in a step or two).
	dh := dataHash{Exclusions: []span{{}}, Name: dataHashName, Alg: hashAlg, Hash: make([]byte, sha256.Size), Pad: []byte{}}
	var out []byte
	for tries := 0; ; tries++ {
		if tries == 8 {
			return nil, errors.New("c2pa: sign: the manifest layout does not settle")
		}
		store, err := b.store(dh, true)
		if err != nil {
			return nil, fmt.Errorf("c2pa: sign: %w", err)
		}
		var where span
		if out, where, err = embed(f, data, store); err != nil {
			return nil, err
		}
		if where == dh.Exclusions[0] {
			break
		}
		dh.Exclusions[0] = where
	}
	dh.Hash = hashExcluding(out, dh.Exclusions)
	store, err := b.store(dh, false)
	if err != nil {
		return nil, fmt.Errorf("c2pa: sign: %w", err)
	}
	final, where, err := embed(f, data, store)
	if err != nil {
		return nil, err
	}
	if where != dh.Exclusions[0] || len(final) != len(out) {
		return nil, errors.New("c2pa: sign: the signed manifest changed size") // cannot happen: same field sizes
	}
	return final, nil
}

// builder holds what one Sign call writes.
type builder struct {
	label, instance string
	manifest        Manifest
	signer          *Signer
	fixed           []*superbox // actions and generation assertions
}

func (b *builder) fixedAssertions() error {
	agent := b.manifest.Generator
	actions, err := encMode.Marshal(actionsAssertion{Actions: []action{{
		Action: ActionCreated, DigitalSourceType: TrainedAlgorithmicMedia, SoftwareAgent: agent,
	}}})
	if err != nil {
		return err
	}
	gen, err := encMode.Marshal(generationAssertion{Model: b.manifest.Model, Parameters: b.manifest.Parameters})
	if err != nil {
		return fmt.Errorf("generation parameters: %w", err)
	}
	b.fixed = []*superbox{cborAssertion(labelActionsV2, actions), cborAssertion(LabelGeneration, gen)}
	return nil
}

// store encodes the manifest store with data hash dh, signing the claim
// (or, with zeroSig, writing a placeholder signature of the same size).
func (b *builder) store(dh dataHash, zeroSig bool) ([]byte, error) {
	dhBytes, err := encMode.Marshal(dh)
	if err != nil {
		return nil, err
	}
	assertions := append(b.fixed[:len(b.fixed):len(b.fixed)], cborAssertion(labelDataHash, dhBytes))
	c := claim{
		InstanceID:         b.instance,
		Title:              b.manifest.Title,
		ClaimGeneratorInfo: b.manifest.Generator,
		Signature:          "self#jumbf=/" + labelStore + "/" + b.label + "/" + labelSignature,
		Alg:                hashAlg,
	}
	for _, a := range assertions {
		c.CreatedAssertions = append(c.CreatedAssertions, hashedURI{
			URL: "self#jumbf=" + labelAssertions + "/" + a.label, Hash: assertionHash(a),
		})
	}
	claimBytes, err := encMode.Marshal(c)
	if err != nil {
		return nil, err
	}
	cose, err := b.signer.sign(claimBytes, zeroSig)
	if err != nil {
		return nil, err
	}
	return buildStore(b.label, assertions, claimBytes, cose), nil
}

// hashExcluding returns the SHA-256 of data without the excluded ranges
// (sorted, not overlapping, inside data).
func hashExcluding(data []byte, exclusions []span) []byte {
	h := sha256.New()
	at := 0
	for _, e := range exclusions {
		h.Write(data[at:e.Start])
		at = e.Start + e.Length
	}
	h.Write(data[at:])
	return h.Sum(nil)
}
