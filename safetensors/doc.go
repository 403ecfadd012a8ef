// Package safetensors reads and writes the safetensors format (an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the data), the format LoRA files, textual
// inversion embeddings and PyTorch checkpoints are shared in.
//
// Open checks the whole header against the file before anything is read
// (a corrupt or truncated file gives a *FormatError, never a panic or a
// huge allocation) and reads tensors one at a time, so a file larger than
// memory can be walked. It does not know what the tensors mean (packages
// lora and, later, the converters do).
package safetensors
