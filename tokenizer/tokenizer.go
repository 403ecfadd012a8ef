package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes prompts into token ids and back.
//
// Implementations are immutable and safe for concurrent use. Invalid UTF-8
// in a prompt is replaced by U+FFFD, one per bad byte, before encoding.
type Tokenizer interface {
	// Encode returns the ids of text with the special tokens added (BOS and
	// EOS for CLIP, EOS for T5), without padding or truncation, like
	// tokenizer(text).input_ids in transformers.
	Encode(text string) []int
	// EncodePadded returns exactly maxLength ids: text encoded, truncated so
	// that the special tokens still fit (EOS stays last) and padded with
	// PadID, like padding="max_length", truncation=True. A maxLength of zero
	// or less means ModelMaxLength. When maxLength is smaller than the
	// special tokens themselves, the result is cut to maxLength keeping EOS
	// last.
	EncodePadded(text string, maxLength int) []int
	// Decode turns ids back into text, skipping special tokens (BOS, EOS,
	// pad) and ids outside the vocabulary.
	Decode(ids []int) string
	// Tokens returns the vocabulary string of each id ("a</w>", "▁cat"), or
	// "" for ids outside the vocabulary.
	Tokens(ids []int) []string
	// ModelMaxLength is model_max_length from tokenizer_config.json (77 for
	// CLIP, 512 for T5), or 0 when the folder does not say.
	ModelMaxLength() int
	// PadID is the id padding uses: the pad token of the folder, or EOS when
	// it names none.
	PadID() int
	// EOSID is the id of the end-of-sequence token.
	EOSID() int
}

// ErrNoTokenizer is returned by [Load] when a folder holds none of the
// tokenizer files it knows (vocab.json + merges.txt, tokenizer.json,
// spiece.model).
var ErrNoTokenizer = errors.New("tokenizer: no tokenizer files in folder")

// FormatError reports a tokenizer file that is missing a part, malformed, or
// uses a feature this package does not implement. Load and the parsers
// behind it return it wrapped with the file it concerns.
type FormatError struct {
	File string // base name of the file, e.g. "merges.txt"
	Msg  string // what is wrong
}

func (e *FormatError) Error() string {
	return "tokenizer: " + e.File + ": " + e.Msg
}

func formatErr(file, format string, args ...any) error {
	return &FormatError{File: file, Msg: fmt.Sprintf(format, args...)}
}

// Load reads the tokenizer in dir (for example a checkpoint's tokenizer or
// tokenizer_3 folder). It prefers tokenizer.json, which says everything
// about the pipeline, and otherwise reads vocab.json + merges.txt as a CLIP
// BPE tokenizer or spiece.model as a T5 SentencePiece Unigram tokenizer.
// tokenizer_config.json and special_tokens_map.json, when present, give the
// pad token, the special tokens and model_max_length.
func Load(dir string) (Tokenizer, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("tokenizer: %s is not a folder", dir)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	switch {
	case exists(filepath.Join(dir, "tokenizer.json")):
		return loadTokenizerJSON(dir, cfg)
	case exists(filepath.Join(dir, "vocab.json")) || exists(filepath.Join(dir, "merges.txt")):
		return loadCLIPFiles(dir, cfg)
	case exists(filepath.Join(dir, "spiece.model")):
		return loadSpiece(dir, cfg)
	}
	return nil, fmt.Errorf("%w: %s (want tokenizer.json, vocab.json + merges.txt, or spiece.model)", ErrNoTokenizer, dir)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// model is a subword model: it turns one pre-tokenized word into ids.
type model interface {
	encodeWord(word string, dst []int) []int
}

// pipeline is the one Tokenizer implementation: added-token split,
// normalizers, pre-tokenizers, a subword model and a post-processor, as in
// Hugging Face tokenizers.
type pipeline struct {
	added     *addedTokens
	normalize []normalizer
	pretok    []preTokenizer
	model     model
	prefix    []int // special ids put before the text (BOS)
	suffix    []int // special ids put after the text (EOS)
	decoder   decoder

	vocab   []string // id -> token
	special []bool   // id -> skipped by Decode
	maxLen  int
	padID   int
	eosID   int
}

// Encode implements Tokenizer.
func (p *pipeline) Encode(text string) []int {
	out := make([]int, 0, len(p.prefix)+len(p.suffix)+len(text)/3+4)
	out = append(out, p.prefix...)
	out = p.encodeBody(text, out)
	return append(out, p.suffix...)
}

// EncodePadded implements Tokenizer.
func (p *pipeline) EncodePadded(text string, maxLength int) []int {
	if maxLength <= 0 {
		maxLength = p.maxLen
	}
	if maxLength <= 0 {
		return p.Encode(text)
	}
	body := p.encodeBody(text, make([]int, 0, maxLength))
	room := maxLength - len(p.prefix) - len(p.suffix)
	if room < 0 {
		room = 0
	}
	if len(body) > room {
		body = body[:room]
	}
	out := make([]int, 0, maxLength+len(p.prefix)+len(p.suffix))
	out = append(out, p.prefix...)
	out = append(out, body...)
	out = append(out, p.suffix...)
	if len(out) > maxLength {
		// Fewer slots than special tokens: keep the last one (EOS) last.
		last := out[len(out)-1]
		out = out[:maxLength]
		out[maxLength-1] = last
	}
	for len(out) < maxLength {
		out = append(out, p.padID)
	}
	return out
}

// encodeBody appends the ids of text without post-processing to dst.
func (p *pipeline) encodeBody(text string, dst []int) []int {
	text = validUTF8(text)
	for _, seg := range p.added.split(text) {
		if seg.id >= 0 {
			dst = append(dst, seg.id)
			continue
		}
		s := seg.text
		for _, n := range p.normalize {
			s = n.normalize(s)
		}
		words := []word{{text: s, atStart: seg.atStart}}
		for _, pt := range p.pretok {
			words = pt.split(words)
		}
		for _, w := range words {
			if w.text != "" {
				dst = p.model.encodeWord(w.text, dst)
			}
		}
	}
	return dst
}

// Decode implements Tokenizer.
func (p *pipeline) Decode(ids []int) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(p.vocab) || p.special[id] {
			continue
		}
		toks = append(toks, p.vocab[id])
	}
	return p.decoder.decode(toks)
}

// Tokens implements Tokenizer.
func (p *pipeline) Tokens(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id >= 0 && id < len(p.vocab) {
			out[i] = p.vocab[id]
		}
	}
	return out
}

// ModelMaxLength implements Tokenizer.
func (p *pipeline) ModelMaxLength() int { return p.maxLen }

// PadID implements Tokenizer.
func (p *pipeline) PadID() int { return p.padID }

// EOSID implements Tokenizer.
func (p *pipeline) EOSID() int { return p.eosID }

// validUTF8 replaces every byte that is not part of a valid UTF-8 sequence
// with U+FFFD, so the rest of the pipeline only sees valid text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// finish fills the id tables of p once its vocabulary and specials are
// known, and resolves pad and EOS from the configuration.
func (p *pipeline) finish(file string, cfg *config, eosDefault string) error {
	// Only two look-ups are needed, so scan rather than build an index.
	lookup := func(tok string) (int, bool) {
		for id, t := range p.vocab {
			if t == tok {
				return id, true
			}
		}
		return 0, false
	}
	p.special = make([]bool, len(p.vocab))
	for _, t := range p.added.tokens {
		if t.special && t.id < len(p.special) {
			p.special[t.id] = true
		}
	}
	eos := cfg.eos
	if eos == "" {
		eos = eosDefault
	}
	id, ok := lookup(eos)
	if !ok {
		return formatErr(file, "end-of-sequence token %q is not in the vocabulary", eos)
	}
	p.eosID = id
	p.padID = id
	if cfg.pad != "" {
		id, ok := lookup(cfg.pad)
		if !ok {
			return formatErr(file, "pad token %q is not in the vocabulary", cfg.pad)
		}
		p.padID = id
	}
	p.maxLen = cfg.maxLen
	return nil
}
