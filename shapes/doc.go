// Package shapes is the procedural "shapes" dataset that imagegen trains its
// own small text-to-image model on, the tokenizer vocabulary learned from its
// captions, and the analytic checker that scores how well a picture follows
// a prompt.
//
// A scene is one or two shapes (circle, square, triangle, star, heart) in
// named colors (red, green, blue, yellow, purple, orange, white, black),
// small or large, placed in a cell of a 3x3 grid ("at the top left") or
// relative to each other ("above", "to the left of"), on a plain background
// of another color. [Generate] and [Dataset] draw scenes, anti-aliased, at
// any size from [MinSize] to [MaxSize] (the model uses 32x32 and 64x64) with
// captions in several phrasings, deterministically from a seed; the
// [Train] and [HeldOut] splits are disjoint seed ranges.
//
// The moving-shapes clips extend the dataset in time: one or two shapes
// moving left, right, up or down, bouncing, growing, shrinking, changing
// color or staying still, over 2 to 64 frames ([GenerateMotion],
// [MotionDataset], the same seed splits), with captions in the same
// grammar ("a red circle moving from left to right on a blue background",
// "a small yellow star growing in the center") that [ParseMotionPrompt]
// reads back and [MotionCondition] encodes for a model. [FindShapes] is
// the checker's per-picture finder, which package evaluate's motion
// checker runs on every frame.
//
// [LearnBPE] learns a CLIP-style byte-level BPE vocabulary from captions and
// writes it as vocab.json + merges.txt, which package tokenizer loads like
// any Stable Diffusion tokenizer folder.
//
// [Check] reads a prompt back into a [Scene] ([ParsePrompt]) and measures a
// picture against it: the dominant color of each shape region named in
// CIELAB, the shape class fitted from geometry, the size from the fitted
// radius and the position from the centroid. [Report] aggregates scores
// into color, shape, size and position accuracies.
//
// The package is not a general image classifier: the checker assumes a
// plain background and the dataset's upright shapes and palette, and the
// parser reads the dataset's phrasings, not free English. It has no model,
// no training loop and no file formats other than the tokenizer files.
package shapes
