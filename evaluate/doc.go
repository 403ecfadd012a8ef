// Package evaluate measures any model family the same way on the shapes
// dataset (what `imagegen eval` prints and the README's families table
// holds): prompt adherence of generated pictures on held-out prompts (the
// analytic checker of package shapes), a Fréchet distance between
// features of generated and real held-out pictures on the frozen feature
// network of package featurenet, bits/dim where the family has a
// likelihood, time per image and parameters. An image tokenizer (the
// VQ-VAE family) is measured on its reconstructions of held-out pictures
// instead: the checker, the Fréchet distance, PSNR and codebook usage.
//
// The motion checker (CheckMotion, EvaluateMotion, MotionReport) measures
// video clips against moving-shapes prompts: it finds the shapes of every
// frame, tracks them, and reads each one's motion (direction, bounce,
// growth, color change), the stability of its color and class across
// frames, and the flicker of the static background.
//
// It is not a benchmark harness for real checkpoints: its prompts and
// pictures are the shapes dataset's, which only models trained on it know.
package evaluate
