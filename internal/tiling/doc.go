// Package tiling runs an image model over a picture too large (or of the
// wrong size) for one run: the picture is cut into overlapping tiles, each
// tile runs alone, and the tiles' outputs are blended with linear ramps
// across the overlaps, normalized so the weights at every output pixel sum
// to one. A constant picture through a model that keeps it constant thus
// stays constant, and a model whose outputs depend on their own pixel only
// gives the whole picture's values.
//
// The tiled VAE of package pipeline and the upscalers of package upscale
// share it. It does not pad pictures smaller than a tile or pick tile
// sizes; its callers do.
package tiling
