// Package featurenet measures how far a set of generated 32x32 shapes
// pictures is from the real ones, as FID does for photographs: a small
// convolutional network, trained once to name the scene attributes of
// shapes pictures (scripts/train_featurenet) and frozen, maps each picture
// to a feature vector of Dim values, and FrechetDistance compares the
// Gaussians fitted to two sets of such vectors. It is the measurement all
// of imagegen's model families share, so that their numbers can be put
// side by side.
//
// The network is embedded in the binary and never retrained: a distance
// is only comparable with distances measured by the same network. Its
// scale on real pictures (real against real, trivial generators against
// real) is in scripts/train_featurenet/README.md.
//
// StatsOf and FrechetDistance work on any feature vectors and need no ONNX
// Runtime; Open, which runs the network, needs ONNX Runtime initialized
// (package ort). The package does not generate pictures, and its
// distances say nothing of pictures other than the shapes dataset's.
package featurenet
