package tokenizer

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// unkPenalty is how much less than the worst piece an unknown character
// scores, as in SentencePiece and tokenizers (kUnkPenalty).
const unkPenalty = 10.0

// piece is one Unigram vocabulary entry.
type piece struct {
	id    int
	score float64
}

// unigram is a SentencePiece Unigram language model: a word is cut into
// the pieces whose scores (log probabilities) add up to the most, found
// with Viterbi over the word's characters.
type unigram struct {
	pieces       map[string]piece
	maxPieceLen  int // longest piece in bytes
	minScore     float64
	unk          int
	byteFallback bool
	byteIDs      [256]int // id of <0xXX>, valid when byteFallback
}

// newUnigram builds the model from (piece, score) pairs in id order.
func newUnigram(file string, vocab []string, scores []float64, unk int, byteFallback bool) (*unigram, error) {
	if unk < 0 || unk >= len(vocab) {
		return nil, formatErr(file, "unknown-token id %d outside a vocabulary of %d", unk, len(vocab))
	}
	m := &unigram{pieces: make(map[string]piece, len(vocab)), unk: unk, byteFallback: byteFallback, minScore: math.Inf(1)}
	for id, tok := range vocab {
		s := scores[id]
		if math.IsNaN(s) {
			return nil, formatErr(file, "piece %d (%q) has a NaN score", id, tok)
		}
		m.minScore = math.Min(m.minScore, s)
		if tok == "" {
			continue
		}
		if _, dup := m.pieces[tok]; dup {
			continue
		}
		m.pieces[tok] = piece{id: id, score: s}
		m.maxPieceLen = max(m.maxPieceLen, len(tok))
	}
	if len(vocab) == 0 {
		m.minScore = 0
	}
	if byteFallback {
		for b := range 256 {
			p, ok := m.pieces[fmt.Sprintf("<0x%02X>", b)]
			if !ok {
				return nil, formatErr(file, "byte_fallback is set but piece <0x%02X> is missing", b)
			}
			m.byteIDs[b] = p.id
		}
	}
	return m, nil
}

// lattice node: the best path that ends at this byte offset.
type bestPath struct {
	score float64
	start int // -1 until reached
	id    int
}

func (m *unigram) encodeWord(w string, dst []int) []int {
	best := make([]bestPath, len(w)+1)
	for i := 1; i < len(best); i++ {
		best[i].start = -1
	}
	unkScore := m.minScore - unkPenalty
	// Every character can at least be the unknown piece, so each offset
	// that starts a character is reached before it is extended.
	for start := 0; start < len(w); {
		_, charLen := utf8.DecodeRuneInString(w[start:])
		here := best[start].score
		single := false
		limit := min(len(w), start+m.maxPieceLen)
		for end := start + charLen; end <= limit; {
			if p, ok := m.pieces[w[start:end]]; ok {
				cand := here + p.score
				if t := &best[end]; t.start < 0 || cand > t.score {
					*t = bestPath{score: cand, start: start, id: p.id}
				}
				if end-start == charLen {
					single = true
				}
			}
			if end == len(w) {
				break
			}
			_, n := utf8.DecodeRuneInString(w[end:])
			end += n
		}
		if !single {
			end := start + charLen
			cand := here + unkScore
			if t := &best[end]; t.start < 0 || cand > t.score {
				*t = bestPath{score: cand, start: start, id: m.unk}
			}
		}
		start += charLen
	}
	// Walk back from the end; runs of unknown characters fuse into one.
	type span struct{ start, end, id int }
	var spans []span
	for end := len(w); end > 0; {
		n := best[end]
		if n.start < 0 {
			break
		}
		if n.id == m.unk && len(spans) > 0 && spans[len(spans)-1].id == m.unk {
			spans[len(spans)-1].start = n.start
		} else {
			spans = append(spans, span{n.start, end, n.id})
		}
		end = n.start
	}
	for i := len(spans) - 1; i >= 0; i-- {
		s := spans[i]
		if s.id != m.unk {
			dst = append(dst, s.id)
			continue
		}
		if p, ok := m.pieces[w[s.start:s.end]]; ok {
			dst = append(dst, p.id)
		} else if m.byteFallback {
			for k := s.start; k < s.end; k++ {
				dst = append(dst, m.byteIDs[w[k]])
			}
		} else {
			dst = append(dst, m.unk)
		}
	}
	return dst
}

// metaspaceDecoder undoes Metaspace and byte fallback: <0xXX> runs become
// bytes, the marker becomes a space, and the first token loses its marker
// when one was prepended.
type metaspaceDecoder struct {
	replacement string
	scheme      prependScheme
}

func (d metaspaceDecoder) decode(tokens []string) string {
	var b strings.Builder
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			b.Write(pending)
		} else {
			for range pending {
				b.WriteRune(utf8.RuneError)
			}
		}
		pending = pending[:0]
	}
	for i, tok := range tokens {
		if v, ok := byteToken(tok); ok {
			pending = append(pending, v)
			continue
		}
		flush()
		if i == 0 && d.scheme != prependNever {
			tok = strings.ReplaceAll(tok, d.replacement, "")
		} else {
			tok = strings.ReplaceAll(tok, d.replacement, " ")
		}
		b.WriteString(tok)
	}
	flush()
	return b.String()
}

// byteToken parses a byte-fallback token "<0xAB>".
func byteToken(tok string) (byte, bool) {
	if len(tok) != 6 || !strings.HasPrefix(tok, "<0x") || tok[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range []byte(tok[3:5]) {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | (c - '0')
		case 'A' <= c && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}
