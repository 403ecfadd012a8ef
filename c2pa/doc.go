// Package c2pa writes and checks C2PA content credentials (Coalition for
// Content Provenance and Authenticity, specification 2.x) in PNG and JPEG
// files: a signed manifest that says a picture was made by a generative
// model, with which model and parameters, bound to the file's bytes.
//
// Sign embeds a manifest store (JUMBF boxes in a PNG caBX chunk or JPEG
// APP11 segments) holding one manifest: a version 2 claim, a
// c2pa.actions.v2 assertion (c2pa.created, digital source type
// trainedAlgorithmicMedia), the generation parameters, and a
// c2pa.hash.data hard binding over the rest of the file; the claim is
// signed as a COSE_Sign1 with ES256 and the signer's certificate chain
// (x5chain). The files verify with the C2PA reference implementation,
// c2pa-rs (the tests run it, compiled to WebAssembly, when Node and the
// npm package are installed).
//
// Verify reads the active manifest back and checks the signature, the
// certificate chain, every assertion hash and the data hash, reporting
// C2PA validation status codes.
//
// The package is not a general C2PA SDK: it writes only the manifests
// imagegen needs (no ingredients, thumbnails, time stamps, redactions or
// remote manifests), signs only with ES256, and checks ECDSA signatures
// only; it does not fetch OCSP responses or trust lists.
package c2pa
