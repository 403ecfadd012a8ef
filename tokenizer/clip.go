package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// clipPattern is the pre-tokenization pattern of CLIP: its special tokens,
// contractions, letter runs, single digits and runs of other symbols.
const clipPattern = `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`

// CLIP's special tokens, used when the folder's configuration names none.
const (
	clipBOS = "<|startoftext|>"
	clipEOS = "<|endoftext|>"
)

// loadCLIPFiles builds a CLIP tokenizer from vocab.json and merges.txt, the
// way transformers converts them: NFC, whitespace runs to one space,
// lowercase, CLIP's split pattern, byte-level BPE with "</w>", BOS + text +
// EOS.
func loadCLIPFiles(dir string, cfg *config) (Tokenizer, error) {
	vocab, err := readVocabJSON(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, formatErr("merges.txt", "missing (vocab.json needs merges.txt beside it)")
		}
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	merges, err := parseMergesTxt(data)
	if err != nil {
		return nil, err
	}
	bos, eos, unk := orDefault(cfg.bos, clipBOS), orDefault(cfg.eos, clipEOS), orDefault(cfg.unk, clipEOS)

	// Special tokens missing from vocab.json get the next ids, as
	// transformers adds them.
	idToTok := vocabTable(vocab)
	var added []addedToken
	addSpecial := func(tok string) {
		if tok == "" {
			return
		}
		id, ok := vocab[tok]
		if !ok {
			id = len(idToTok)
			vocab[tok] = id
			idToTok = append(idToTok, tok)
		}
		added = append(added, addedToken{content: tok, id: id, special: true})
	}
	for _, t := range cfg.decoderTokens {
		if t.id < len(idToTok) && idToTok[t.id] == t.content {
			added = append(added, t)
		}
	}
	for _, t := range append([]string{bos, eos, unk, cfg.pad}, cfg.additional...) {
		addSpecial(t)
	}

	m, err := newBPE("merges.txt", vocab, merges, "</w>", "", unk, false)
	if err != nil {
		return nil, err
	}
	p := &pipeline{
		added: newAddedTokens(added),
		normalize: []normalizer{
			unicodeForm{norm.NFC},
			collapseSpace{},
			lowercase{},
		},
		pretok: []preTokenizer{
			clipSplit{},
			byteLevel{useRegex: true},
		},
		model:   m,
		prefix:  []int{vocab[bos]},
		suffix:  []int{vocab[eos]},
		decoder: byteLevelDecoder{suffix: "</w>"},
		vocab:   idToTok,
	}
	cfg.eos = eos
	if err := p.finish("vocab.json", cfg, eos); err != nil {
		return nil, err
	}
	return p, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readVocabJSON reads a {"token": id} object.
func readVocabJSON(path string) (map[string]int, error) {
	name := filepath.Base(path)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, formatErr(name, "missing (merges.txt needs vocab.json beside it)")
		}
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vocab, ok := parseVocabFast(data)
	if !ok {
		// Unusual layout: let encoding/json parse it and explain errors.
		vocab = nil
		if err := json.Unmarshal(data, &vocab); err != nil {
			return nil, formatErr(name, "not a JSON object of token ids: %v", err)
		}
	}
	if len(vocab) == 0 {
		return nil, formatErr(name, "empty vocabulary")
	}
	if err := checkIDs(name, vocab); err != nil {
		return nil, err
	}
	return vocab, nil
}

// maxVocab bounds ids so a corrupt file cannot make Load allocate wildly.
const maxVocab = 1 << 24

func checkIDs(file string, vocab map[string]int) error {
	for tok, id := range vocab {
		if id < 0 || id >= maxVocab {
			return formatErr(file, "token %q has id %d outside [0, %d)", tok, id, maxVocab)
		}
	}
	return nil
}

// vocabTable inverts a token -> id map into an id -> token table.
func vocabTable(vocab map[string]int) []string {
	n := 0
	for _, id := range vocab {
		n = max(n, id+1)
	}
	t := make([]string, n)
	for tok, id := range vocab {
		t[id] = tok
	}
	return t
}

// parseMergesTxt reads merges.txt: an optional "#version" line, then one
// "left right" pair per line in rank order.
func parseMergesTxt(raw []byte) ([][2]string, error) {
	data := string(raw)
	merges := make([][2]string, 0, strings.Count(data, "\n")+1)
	for n := 0; data != ""; n++ {
		line, rest, _ := strings.Cut(data, "\n")
		data = rest
		line = strings.TrimSuffix(line, "\r")
		if line == "" || (n == 0 && strings.HasPrefix(line, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, formatErr("merges.txt", "line %d: want two tokens separated by one space, got %q", n+1, line)
		}
		merges = append(merges, [2]string{a, b})
	}
	if len(merges) == 0 {
		return nil, formatErr("merges.txt", "no merges")
	}
	return merges, nil
}

// newBPE checks the merges against the vocabulary and indexes them.
func newBPE(file string, vocab map[string]int, merges [][2]string, suffix, prefix, unk string, ignoreMerges bool) (*bpe, error) {
	m := &bpe{vocab: vocab, merges: make(map[uint64]mergeRule, len(merges)), suffix: suffix, prefix: prefix, unk: -1, ignoreMerges: ignoreMerges}
	if unk != "" {
		id, ok := vocab[unk]
		if !ok {
			return nil, formatErr(file, "unknown token %q is not in the vocabulary", unk)
		}
		m.unk = id
	}
	for rank, pair := range merges {
		a, okA := vocab[pair[0]]
		b, okB := vocab[pair[1]]
		if !okA || !okB {
			return nil, formatErr(file, "merge %d (%q %q) uses a token not in the vocabulary", rank+1, pair[0], pair[1])
		}
		merged := pair[0] + strings.TrimPrefix(pair[1], prefix)
		id, ok := vocab[merged]
		if !ok {
			return nil, formatErr(file, "merge %d (%q %q) makes %q, which is not in the vocabulary", rank+1, pair[0], pair[1], merged)
		}
		// A repeated pair keeps its last rank, as tokenizers and
		// transformers build their merge maps.
		m.merges[pairKey(a, b)] = mergeRule{rank: int32(rank), id: int32(id)}
	}
	return m, nil
}

// parseVocabFast reads the {"token": id, ...} layout that tokenizers and
// transformers write, several times faster than encoding/json; it reports
// false on anything else (the caller then falls back to encoding/json).
// Tokens are substrings of one copy of the file, so they cost no
// allocation each.
func parseVocabFast(raw []byte) (map[string]int, bool) {
	data := string(raw)
	vocab := make(map[string]int, strings.Count(data, `":`))
	i := 0
	skipSpace := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
			i++
		}
	}
	expect := func(c byte) bool {
		skipSpace()
		if i < len(data) && data[i] == c {
			i++
			return true
		}
		return false
	}
	if !expect('{') {
		return nil, false
	}
	if expect('}') {
		return vocab, true
	}
	for {
		if !expect('"') {
			return nil, false
		}
		start, escaped := i, false
		for i < len(data) && data[i] != '"' {
			if data[i] == '\\' {
				escaped = true
				i++
			}
			i++
		}
		if i >= len(data) {
			return nil, false
		}
		tok := data[start:i]
		if escaped {
			var ok bool
			if tok, ok = unescapeJSON(tok); !ok {
				return nil, false
			}
		} else if !utf8.ValidString(tok) {
			return nil, false
		}
		i++
		if !expect(':') {
			return nil, false
		}
		skipSpace()
		id, digits := 0, 0
		for i < len(data) && '0' <= data[i] && data[i] <= '9' && digits < 9 {
			id = id*10 + int(data[i]-'0')
			i++
			digits++
		}
		if digits == 0 {
			return nil, false
		}
		vocab[tok] = id
		if expect('}') {
			skipSpace()
			return vocab, i == len(data)
		}
		if !expect(',') {
			return nil, false
		}
	}
}

// unescapeJSON decodes the escapes of a JSON string body.
func unescapeJSON(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+3); ok && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), utf8.ValidString(b.String())
}

func hex4(s string, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[at:at+4], 16, 16)
	return rune(v), err == nil
}
