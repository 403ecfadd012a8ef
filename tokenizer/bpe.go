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
	if len(syms) > longWord {
		return m.mergeHeap(syms)
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

// longWord is the symbol count above which merge switches from rescanning
// all pairs (quadratic, fastest for prompt-sized words) to a heap.
const longWord = 48

// pendingMerge is a candidate merge of the symbol at pos with its right
// neighbour.
type pendingMerge struct {
	rank, pos int
	id        int
}

// mergeHeap gives the same result as the rescanning loop in O(n log n):
// the lowest (rank, position) candidate is applied first, and candidates
// made stale by an earlier merge are skipped when popped.
func (m *bpe) mergeHeap(syms []int) []int {
	n := len(syms)
	next := make([]int, n)
	prev := make([]int, n)
	alive := make([]bool, n)
	for i := range syms {
		next[i], prev[i], alive[i] = i+1, i-1, true
	}
	next[n-1] = -1
	var h []pendingMerge
	less := func(a, b pendingMerge) bool { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos) }
	push := func(pos int) {
		if pos < 0 || next[pos] < 0 {
			return
		}
		r, ok := m.merges[pairKey(syms[pos], syms[next[pos]])]
		if !ok {
			return
		}
		h = append(h, pendingMerge{int(r.rank), pos, int(r.id)})
		for i := len(h) - 1; i > 0; {
			parent := (i - 1) / 2
			if !less(h[i], h[parent]) {
				break
			}
			h[i], h[parent] = h[parent], h[i]
			i = parent
		}
	}
	pop := func() pendingMerge {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, small := 2*i+1, 2*i+2, i
			if l < len(h) && less(h[l], h[small]) {
				small = l
			}
			if r < len(h) && less(h[r], h[small]) {
				small = r
			}
			if small == i {
				break
			}
			h[i], h[small] = h[small], h[i]
			i = small
		}
		return top
	}
	for i := range syms {
		push(i)
	}
	for len(h) > 0 {
		c := pop()
		right := next[c.pos]
		if !alive[c.pos] || right < 0 {
			continue
		}
		if r, ok := m.merges[pairKey(syms[c.pos], syms[right])]; !ok || int(r.rank) != c.rank || int(r.id) != c.id {
			continue // the pair changed since this candidate was pushed
		}
		syms[c.pos] = c.id
		alive[right] = false
		next[c.pos] = next[right]
		if next[right] >= 0 {
			prev[next[right]] = c.pos
		}
		push(prev[c.pos])
		push(c.pos)
	}
	out := syms[:0]
	for i := 0; i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
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
