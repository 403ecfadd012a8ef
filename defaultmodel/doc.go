// Package defaultmodel is imagegen's built-in text-to-image model: a small
// Stable-Diffusion-style checkpoint (CLIP-style text encoder, UNet, VAE)
// that imagegen trained itself on the procedural shapes dataset (package
// shapes) with scripts/train_default_model, embedded in the binary so that
// `imagegen generate "a red circle above a blue square"` works with no
// download and no --model.
//
// The embedded files are the Optimum folder layout package pipeline loads;
// [Dir] writes them once into the user's cache, under a folder named after
// their content hash, and returns that folder.
//
// The package is not a general model: it knows the shapes dataset's five
// shapes, eight colors, two sizes, grid positions and relations, at 32x32
// pixels. It does no training and runs no model itself.
package defaultmodel
