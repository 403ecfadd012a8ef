package shapes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The CLIP conventions the learned vocabulary follows, so that package
// tokenizer reads it as it reads Stable Diffusion's.
const (
	endOfWord   = "</w>"
	startOfText = "<|startoftext|>"
	endOfText   = "<|endoftext|>"
)

// clipSplit is CLIP's pre-tokenization pattern: special tokens,
// contractions, letter runs, single digits, runs of other symbols.
var clipSplit = regexp.MustCompile(`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)

// byteSymbols is GPT-2's byte-to-character table, in the order CLIP's
// vocabulary lists it: the printable bytes (which stand for themselves)
// first, then the others mapped to U+0100 upwards.
var byteSymbols, byteOrder = func() (sym [256]string, order [256]byte) {
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	n, next := 0, rune(256)
	for b := range 256 {
		if printable(b) {
			sym[b] = string(rune(b))
			order[n] = byte(b)
			n++
		}
	}
	for b := range 256 {
		if !printable(b) {
			sym[b] = string(next)
			next++
			order[n] = byte(b)
			n++
		}
	}
	return sym, order
}()

// PreTokenize splits text into the words a CLIP tokenizer sees: NFC,
// lowercase, then CLIP's pattern (so "A red-circle!" gives "a", "red", "-",
// "circle", "!"). Decoding a CLIP encoding gives these words joined by
// single spaces.
func PreTokenize(text string) []string {
	text = strings.ToLower(norm.NFC.String(text))
	return clipSplit.FindAllString(text, -1)
}

// BPEOptions tunes [LearnBPE]. The zero value learns every merge that occurs
// at least twice, for a 77-token model.
type BPEOptions struct {
	// MaxMerges caps the number of merges (0: no cap).
	MaxMerges int
	// MinFrequency is the least weighted count a pair needs to be merged
	// (0 means 2).
	MinFrequency int
	// ModelMaxLength is written to tokenizer_config.json (0 means 77, CLIP's).
	ModelMaxLength int
}

// Vocabulary is a learned CLIP-style byte-level BPE vocabulary: the 256
// byte symbols, their end-of-word forms, one token per merge, and the two
// special tokens, in that id order (the order of CLIP's own vocabulary).
type Vocabulary struct {
	tokens []string // id -> token
	merges [][2]string
	maxLen int
}

// ErrNoText is returned by [LearnBPE] when the texts hold no word.
var ErrNoText = errors.New("shapes: no text to learn a vocabulary from")

// LearnBPE learns merges from texts the way BPE is trained: split every text
// into CLIP words, spell each word in byte symbols with "</w>" on the last,
// then repeatedly merge the most frequent adjacent pair (ties go to the
// lexically smallest pair, so the result is deterministic).
func LearnBPE(texts []string, opts BPEOptions) (*Vocabulary, error) {
	if opts.MaxMerges < 0 || opts.MinFrequency < 0 || opts.ModelMaxLength < 0 {
		return nil, fmt.Errorf("shapes: negative BPE option in %+v", opts)
	}
	minFreq := opts.MinFrequency
	if minFreq == 0 {
		minFreq = 2
	}
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range PreTokenize(t) {
			if w != startOfText && w != endOfText {
				counts[w]++
			}
		}
	}
	if len(counts) == 0 {
		return nil, ErrNoText
	}
	type word struct {
		syms  []string
		count int
	}
	words := make([]word, 0, len(counts))
	for w, c := range counts {
		syms := make([]string, len(w))
		for i := range len(w) {
			syms[i] = byteSymbols[w[i]]
		}
		syms[len(syms)-1] += endOfWord
		words = append(words, word{syms, c})
	}

	v := &Vocabulary{maxLen: opts.ModelMaxLength}
	if v.maxLen == 0 {
		v.maxLen = 77
	}
	for _, b := range byteOrder {
		v.tokens = append(v.tokens, byteSymbols[b])
	}
	for _, b := range byteOrder {
		v.tokens = append(v.tokens, byteSymbols[b]+endOfWord)
	}
	known := make(map[string]bool, len(v.tokens))
	for _, t := range v.tokens {
		known[t] = true
	}
	for opts.MaxMerges == 0 || len(v.merges) < opts.MaxMerges {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.count
			}
		}
		var best [2]string
		bestN := 0
		for p, n := range pairs {
			if n > bestN || (n == bestN && (p[0] < best[0] || (p[0] == best[0] && p[1] < best[1]))) {
				best, bestN = p, n
			}
		}
		if bestN < minFreq {
			break
		}
		v.merges = append(v.merges, best)
		merged := best[0] + best[1]
		if !known[merged] {
			known[merged] = true
			v.tokens = append(v.tokens, merged)
		}
		for i := range words {
			words[i].syms = mergePair(words[i].syms, best, merged)
		}
	}
	v.tokens = append(v.tokens, startOfText, endOfText)
	return v, nil
}

// mergePair replaces every non-overlapping occurrence of pair, left to
// right, with merged.
func mergePair(syms []string, pair [2]string, merged string) []string {
	out := syms[:0]
	for i := 0; i < len(syms); i++ {
		if i+1 < len(syms) && syms[i] == pair[0] && syms[i+1] == pair[1] {
			out = append(out, merged)
			i++
			continue
		}
		out = append(out, syms[i])
	}
	return out
}

// Tokens returns the vocabulary in id order.
func (v *Vocabulary) Tokens() []string { return append([]string(nil), v.tokens...) }

// Merges returns the merges in rank order.
func (v *Vocabulary) Merges() [][2]string { return append([][2]string(nil), v.merges...) }

// WriteDir writes the vocabulary into dir (created if missing) as a
// tokenizer folder laid out like Stable Diffusion 1.5's: vocab.json,
// merges.txt, tokenizer_config.json and special_tokens_map.json.
func (v *Vocabulary) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("shapes: write vocabulary: %w", err)
	}
	var vocab bytes.Buffer
	vocab.WriteByte('{')
	for id, tok := range v.tokens {
		if id > 0 {
			vocab.WriteString(", ")
		}
		vocab.WriteString(jsonString(tok))
		fmt.Fprintf(&vocab, ": %d", id)
	}
	vocab.WriteString("}\n")

	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for _, m := range v.merges {
		merges.WriteString(m[0] + " " + m[1] + "\n")
	}

	config := fmt.Sprintf(`{
  "add_prefix_space": false,
  "bos_token": %[1]s,
  "do_lower_case": true,
  "eos_token": %[2]s,
  "errors": "replace",
  "model_max_length": %[3]d,
  "pad_token": %[2]s,
  "tokenizer_class": "CLIPTokenizer",
  "unk_token": %[2]s
}
`, jsonString(startOfText), jsonString(endOfText), v.maxLen)
	special := fmt.Sprintf(`{
  "bos_token": %[1]s,
  "eos_token": %[2]s,
  "pad_token": %[2]s,
  "unk_token": %[2]s
}
`, jsonString(startOfText), jsonString(endOfText))

	for _, f := range []struct{ name, body string }{
		{"vocab.json", vocab.String()},
		{"merges.txt", merges.String()},
		{"tokenizer_config.json", config},
		{"special_tokens_map.json", special},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o644); err != nil {
			return fmt.Errorf("shapes: write vocabulary: %w", err)
		}
	}
	return nil
}

// jsonString quotes s as JSON without HTML escaping, so "</w>" stays
// readable as in CLIP's files.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
