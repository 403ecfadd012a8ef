// Package modelreg reads models.yaml registries: named models with a source
// (a local folder or an hf:ORG/NAME[@REV][/SUBFOLDER] reference), a family
// and generation defaults (scheduler, steps, guidance, size).
//
// Registries are read from ./models.yaml, the user's
// ~/.config/imagegen/models.yaml and any files given explicitly, later files
// overriding earlier ones entry by entry. The package only reads and
// merges; resolving an hf: source to a folder is the job of package hub.
package modelreg
