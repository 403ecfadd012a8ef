package c2pa

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Labels and values this package writes (C2PA 2.x, claim version 2).
const (
	labelStore      = "c2pa"
	labelAssertions = "c2pa.assertions"
	labelClaimV2    = "c2pa.claim.v2"
	labelClaimV1    = "c2pa.claim"
	labelSignature  = "c2pa.signature"
	labelActionsV2  = "c2pa.actions.v2"
	labelActionsV1  = "c2pa.actions"
	labelDataHash   = "c2pa.hash.data"
	// LabelGeneration is the label of the assertion that holds the model
	// and the generation parameters (a CBOR map {"model", "parameters"}).
	// C2PA reserves the "c2pa." prefix; other assertions are named by
	// reverse domain.
	LabelGeneration = "com.github.imagegen.generation"

	// ActionCreated is the c2pa.actions action for a new asset.
	ActionCreated = "c2pa.created"
	// TrainedAlgorithmicMedia is the IPTC digital source type of media
	// made by a trained model (generative AI).
	TrainedAlgorithmicMedia = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

	hashAlg          = "sha256"
	dataHashName     = "jumbf manifest"
	es256SignatureSz = 64
)

// Agent names a piece of software: the claim generator, and the software
// agent of an action.
type Agent struct {
	Name    string `cbor:"name" json:"name"`
	Version string `cbor:"version,omitempty" json:"version,omitempty"`
}

// Manifest is what Sign states about a generated picture: it was created
// (c2pa.created, digital source type trainedAlgorithmicMedia) by Generator
// with Model and Parameters.
type Manifest struct {
	// Generator is the claim generator and the action's software agent;
	// its Name is required.
	Generator Agent
	// Title is the claim's dc:title; empty means none.
	Title string
	// Model names the model that made the picture.
	Model string
	// Parameters are the generation parameters: values that JSON can hold
	// (strings, numbers, booleans, nil, slices and string-keyed maps).
	Parameters map[string]any
}

// hashedURI is a C2PA hashed_uri: a JUMBF URI and the hash of the box it
// names.
type hashedURI struct {
	URL  string `cbor:"url"`
	Alg  string `cbor:"alg,omitempty"`
	Hash []byte `cbor:"hash"`
}

// claim covers claim versions 1 and 2 for reading; Sign writes version 2
// fields only.
type claim struct {
	InstanceID         string      `cbor:"instanceID"`
	Title              string      `cbor:"dc:title,omitempty"`
	ClaimGenerator     string      `cbor:"claim_generator,omitempty"`
	ClaimGeneratorInfo any         `cbor:"claim_generator_info,omitempty"`
	Signature          string      `cbor:"signature"`
	Assertions         []hashedURI `cbor:"assertions,omitempty"`
	CreatedAssertions  []hashedURI `cbor:"created_assertions,omitempty"`
	GatheredAssertions []hashedURI `cbor:"gathered_assertions,omitempty"`
	Alg                string      `cbor:"alg,omitempty"`
}

type action struct {
	Action            string `cbor:"action" json:"action"`
	DigitalSourceType string `cbor:"digitalSourceType,omitempty" json:"digitalSourceType,omitempty"`
	SoftwareAgent     any    `cbor:"softwareAgent,omitempty" json:"softwareAgent,omitempty"`
}

type actionsAssertion struct {
	Actions []action `cbor:"actions"`
}

type generationAssertion struct {
	Model      string         `cbor:"model,omitempty"`
	Parameters map[string]any `cbor:"parameters,omitempty"`
}

// span is a byte range of the asset; as a data-hash exclusion it is
// encoded {start, length}.
type span struct {
	Start  int `cbor:"start"`
	Length int `cbor:"length"`
}

type dataHash struct {
	Exclusions []span `cbor:"exclusions"`
	Name       string `cbor:"name"`
	Alg        string `cbor:"alg"`
	Hash       []byte `cbor:"hash"`
	Pad        []byte `cbor:"pad"`
}

// encMode writes deterministic CBOR (sorted map keys, shortest forms), so
// equal manifests give equal bytes.
var encMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return m
}()

// decMode reads untrusted manifests with bounded nesting and sizes, and
// decodes untyped maps to map[string]any (as JSON would); COSE headers,
// whose keys are integers, are decoded into typed maps.
var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return m
}()

// newUUID returns a random (version 4) UUID in its text form.
func newUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[:4], u[4:6], u[6:8], u[8:10], u[10:]), nil
}

// cborAssertion wraps CBOR bytes in an assertion superbox.
func cborAssertion(label string, body []byte) *superbox {
	return &superbox{typ: typeCBOR, label: label, contentType: "cbor", content: body}
}

// assertionHash is the hash a claim stores for an assertion: SHA-256 of
// the assertion superbox's payload (description box and content box).
func assertionHash(b *superbox) []byte {
	h := sha256.Sum256(b.encodePayload())
	return h[:]
}

// buildStore assembles a manifest store with one manifest.
func buildStore(label string, assertions []*superbox, claimCBOR, cose []byte) []byte {
	manifest := &superbox{typ: typeManifest, label: label, children: []*superbox{
		{typ: typeAssertions, label: labelAssertions, children: assertions},
		{typ: typeClaim, label: labelClaimV2, contentType: "cbor", content: claimCBOR},
		{typ: typeSignature, label: labelSignature, contentType: "cbor", content: cose},
	}}
	store := &superbox{typ: typeStore, label: labelStore, children: []*superbox{manifest}}
	return store.appendTo(nil)
}
