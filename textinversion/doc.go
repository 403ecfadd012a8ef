// Package textinversion reads textual-inversion embeddings — learned token
// vectors a prompt calls by name — and adds them to exported CLIP text
// encoders as new tokens.
//
// Load reads .safetensors files (emb_params, or SDXL's clip_l / clip_g
// pair) and AUTOMATIC1111's .pt / .bin files (string_to_param or
// emb_params, read by a small unpickler of PyTorch's zip format that runs
// no code). AddTokens appends an embedding's vectors to the token
// embedding table of an encoder graph (a merged copy; the original
// initializer stays as it was) and returns their new ids; Tokenizer wraps a
// tokenizer so the embedding's name in a prompt becomes those ids.
package textinversion
