package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestMergeHeapMatchesScan checks the heap merge of long words against the
// rescanning loop on random words over the fixture vocabulary's letters.
func TestMergeHeapMatchesScan(t *testing.T) {
	tok := sd1Tokenizer(t)
	m := tok.(*pipeline).model.(*bpe)
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "thereowinalbpu"
	for trial := range 300 {
		var b strings.Builder
		for range 1 + rng.IntN(3*longWord) {
			b.WriteByte(letters[rng.IntN(len(letters))])
		}
		w := b.String()
		scan := scanMerge(m, w)
		heap := m.mergeHeap(initialSymbols(m, w))
		if !slices.Equal(scan, heap) {
			t.Fatalf("trial %d, word %q: heap merge %v, scan merge %v", trial, w, heap, scan)
		}
	}
}

func initialSymbols(m *bpe, w string) []int {
	var syms []int
	for i, r := range w {
		s := string(r)
		if i == len(w)-1 {
			s += m.suffix
		}
		syms = append(syms, m.vocab[s])
	}
	return syms
}

// scanMerge runs the rescanning loop whatever the word length.
func scanMerge(m *bpe, w string) []int {
	syms := initialSymbols(m, w)
	for len(syms) > 1 {
		best, at := mergeRule{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok && (at < 0 || r.rank < best.rank) {
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
