// Package modelcache keeps loaded models for a long-running process (the
// server, a worker): a model is loaded on its first use, once however many
// requests ask for it at the same moment, shared by every request after,
// and closed when it has been the least recently used of more than
// MaxLoaded models and nobody holds it.
//
// It is not a registry: which names exist and where their files are is
// the Loader's business.
package modelcache
