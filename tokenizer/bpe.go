package tokenizer

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// byteRunes is GPT-2's reversible byte-to-character table: printable
// Latin-1 bytes stand for themselves, the other bytes are moved to
// U+0100 and up, so every byte string becomes printable text.
var byteRunes, byteOfRune = func() ([256]string, map[rune]byte) {
	var enc [256]string
	dec := make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		enc[b] = string(r)
		dec[r] = byte(b)
	}
	return enc, dec
}()

// byteLevelString spells each byte of s with its byteRunes character.
func byteLevelString(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteString(byteRunes[s[i]])
	}
	return b.String()
}

// mergeRule is the result of merging one pair: its rank (lower merges
// first) and the id of the merged token.
type mergeRule struct {
	rank int32
	id   int32
}

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpe is a byte-pair-encoding model as in Hugging Face tokenizers, with
// CLIP's end-of-word suffix.
type bpe struct {
	vocab        map[string]int
	merges       map[uint64]mergeRule
	suffix       string // end_of_word_suffix, "</w>" for CLIP
	prefix       string // continuing_subword_prefix, "" for CLIP
	unk          int    // id for characters not in the vocabulary, -1 for none
	ignoreMerges bool

	mu    sync.RWMutex
	cache map[string][]int
}

// cacheLimit bounds the per-tokenizer word cache; prompts reuse few words.
const cacheLimit = 1 << 16

func (m *bpe) encodeWord(w string, dst []int) []int {
	m.mu.RLock()
	ids, ok := m.cache[w]
	m.mu.RUnlock()
	if ok {
		return append(dst, ids...)
	}
	ids = m.merge(w)
	m.mu.Lock()
	if m.cache == nil {
		m.cache = make(map[string][]int)
	}
	if len(m.cache) < cacheLimit {
		m.cache[strings.Clone(w)] = ids
	}
	m.mu.Unlock()
	return append(dst, ids...)
}

// merge splits w into characters and applies merges by rank, always the
// lowest-ranked pair first and the leftmost among equals, which is the
// order tokenizers' priority queue produces.
func (m *bpe) merge(w string) []int {
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return []int{id}
		}
	}
	syms := make([]int, 0, len(w))
	for i, r := range w {
		end := i + utf8.RuneLen(r)
		s := w[i:end]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if end == len(w) && m.suffix != "" {
			s += m.suffix
		}
		id, ok := m.vocab[s]
		if !ok {
			if m.unk < 0 {
				continue
			}
			id = m.unk
		}
		syms = append(syms, id)
	}
	for len(syms) > 1 {
		best, at := mergeRule{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			r, ok := m.merges[pairKey(syms[i], syms[i+1])]
			if ok && (at < 0 || r.rank < best.rank) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		syms[at] = int(best.id)
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return syms
}

// decoder turns vocabulary strings back into text.
type decoder interface {
	decode(tokens []string) string
}

// byteLevelDecoder undoes byteRunes; with a suffix it also turns each
// end-of-word marker into a space and trims, as transformers' CLIP
// tokenizer does.
type byteLevelDecoder struct{ suffix string }

func (d byteLevelDecoder) decode(tokens []string) string {
	joined := strings.Join(tokens, "")
	raw := make([]byte, 0, len(joined))
	for _, r := range joined {
		if b, ok := byteOfRune[r]; ok {
			raw = append(raw, b)
		} else {
			raw = utf8.AppendRune(raw, r)
		}
	}
	s := validUTF8(string(raw))
	if d.suffix != "" {
		s = strings.TrimSpace(strings.ReplaceAll(s, d.suffix, " "))
	}
	return s
}
