// Package trainrun runs one resumable training phase of imagegen's model
// scripts (scripts/train_*): a Trainer from package onnx_export driven to a
// step count, checkpointed every few hundred steps to STATE/NAME.ckpt, with
// its losses appended to STATE/NAME_loss.csv. Running the same phase again
// resumes from the checkpoint; raising the step count trains further.
//
// It is not a training framework: the networks, losses and datasets are the
// scripts' own; this package only holds the loop every script repeated.
package trainrun
