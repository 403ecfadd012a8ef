// Package tokenizer turns prompts into the token ids that the text encoders
// of diffusion checkpoints expect, id for id as the Hugging Face tokenizers
// of those checkpoints would.
//
// Two families are covered:
//
//   - CLIP byte-level BPE (SD 1.x/2.x, both SDXL encoders, the CLIP encoders
//     of SD3 and Flux), loaded from vocab.json + merges.txt or from a
//     tokenizer.json with a BPE model;
//   - T5 SentencePiece Unigram (SD3's tokenizer_3, Flux's tokenizer_2),
//     loaded from a tokenizer.json with a Unigram model or from spiece.model.
//
// [Load] picks the family from the files in a folder and reads
// tokenizer_config.json / special_tokens_map.json for the pad token and
// model_max_length. The returned [Tokenizer] is immutable after loading and
// safe for concurrent use.
//
// The package is not a general tokenizers runtime: it understands the
// normalizers, pre-tokenizers and post-processors that these checkpoints use
// (NFC/NFKC, Lowercase, Replace, Strip, Precompiled; Split, ByteLevel,
// WhitespaceSplit, Metaspace; Roberta/Bert/Template processing) and reports a
// [FormatError] for anything else rather than guessing. It does not train
// tokenizers, compute offsets, or handle sentence pairs.
package tokenizer
