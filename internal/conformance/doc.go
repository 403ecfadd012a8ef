// Package conformance gives tests access to the shared conformance fixtures:
// tiny checkpoints exported by diffusers/transformers in the Optimum layout
// (../shared/conformance/*.tar.gz beside the repository) and diffusers'
// reference outputs (refs.json).
//
// Tests call Dir or Refs and skip with a clear message when the fixtures are
// absent; nothing here is used by the product itself.
package conformance
