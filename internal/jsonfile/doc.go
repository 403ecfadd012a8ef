// Package jsonfile reads and writes the small JSON files of a model folder
// (model_index.json, component configs) the way imagegen's training scripts
// export them: two-space indentation and a final newline, so exports diff
// cleanly against the diffusers files they imitate.
package jsonfile
