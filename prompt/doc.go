// Package prompt reads prompts the way AUTOMATIC1111's web UI does:
// emphasis syntax — (word) multiplies the attention on word by 1.1,
// ((word)) by 1.21, (word:1.3) by 1.3, [word] divides it by 1.1, \( and
// \[ are literal brackets, unbalanced brackets apply to the rest of the
// prompt — BREAK to start a new chunk, and prompts of any length encoded in
// chunks of 75 tokens between the start and end tokens. Parse gives the
// weighted spans, Chunks the token windows with one weight per token, and
// Emphasize applies the weights to a text encoder's hidden states (scale,
// then restore the mean).
//
// It is for CLIP-encoded families (SD 1.x/2.x, SDXL); it knows nothing of
// ONNX Runtime (package pipeline runs the encoders) and does not change
// what a prompt without that syntax means.
package prompt
