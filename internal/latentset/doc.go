// Package latentset builds and caches the latent training set that the
// scripts distilling or re-training builtin:default's denoiser share
// (scripts/train_lcm, scripts/train_dit): the first n pictures of the
// shapes training split encoded by the model's own VAE encoder (posterior
// mean times its scaling_factor) and their captions (and "") by its text
// encoder (last hidden states).
//
// It is not a data loader for training in general: batching, noise and
// targets are each script's own.
package latentset
