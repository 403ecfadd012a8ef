package shapes

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/tokenizer"
)

func trainCaptions(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = Caption(uint64(i))
	}
	return out
}

func TestLearnBPELoadsInTokenizer(t *testing.T) {
	captions := trainCaptions(2000)
	v, err := LearnBPE(captions, BPEOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := v.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatalf("tokenizer.Load: %v", err)
	}
	if got := tok.ModelMaxLength(); got != 77 {
		t.Errorf("ModelMaxLength = %d, want 77", got)
	}
	tokens := v.Tokens()
	if got, want := len(tokens), 512+len(v.Merges())+2; got > want {
		t.Errorf("%d tokens, want at most %d", got, want)
	}
	// Every caption word is a merged token of its own: the vocabulary has
	// learned the whole caption language.
	for _, c := range captions[:200] {
		ids := tok.Encode(c)
		words := PreTokenize(c)
		want := []string{startOfText}
		for _, w := range words {
			want = append(want, w+endOfWord)
		}
		want = append(want, endOfText)
		if got := tok.Tokens(ids); !slices.Equal(got, want) {
			t.Fatalf("Encode(%q) tokens = %q, want %q", c, got, want)
		}
	}

	tests := []struct{ name, text string }{
		{"caption", "a yellow triangle above a green square on a black background"},
		{"case and spaces", "  A Large   BLUE star\tat the TOP left "},
		{"unknown words", "a zebra riding a purple unicycle"},
		{"punctuation and digits", "3 hearts, 2 stars & a moon!"},
		{"non-ASCII", "un cœur rouge à gauche 🎈"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids := tok.Encode(tc.text)
			if ids[0] != tokenIndex(tokens, startOfText) || ids[len(ids)-1] != tok.EOSID() {
				t.Fatalf("Encode(%q) = %v: want BOS first and EOS last", tc.text, ids)
			}
			for _, id := range ids[1 : len(ids)-1] {
				if id == tok.EOSID() {
					t.Fatalf("Encode(%q) = %v: an unknown piece became EOS", tc.text, ids)
				}
			}
			want := strings.Join(PreTokenize(tc.text), " ")
			if got := tok.Decode(ids); got != want {
				t.Errorf("Decode(Encode(%q)) = %q, want %q", tc.text, got, want)
			}
		})
	}
}

func tokenIndex(tokens []string, tok string) int { return slices.Index(tokens, tok) }

func TestLearnBPEVocabularyLayout(t *testing.T) {
	v, err := LearnBPE([]string{"a red circle", "a red square", "red red"}, BPEOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := v.Tokens()
	// CLIP's layout: the byte symbols from "!", their end-of-word forms from
	// id 256, then the merges, then the two special tokens.
	checks := []struct {
		id   int
		want string
	}{
		{0, "!"}, {255, byteSymbols[byteOrder[255]]}, {256, "!</w>"}, {511, byteSymbols[byteOrder[255]] + endOfWord},
		{len(tokens) - 2, startOfText}, {len(tokens) - 1, endOfText},
	}
	for _, c := range checks {
		if tokens[c.id] != c.want {
			t.Errorf("token %d = %q, want %q", c.id, tokens[c.id], c.want)
		}
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %q twice", tok)
		}
		seen[tok] = true
	}
	if !seen["red</w>"] {
		t.Errorf("no token for the frequent word %q", "red</w>")
	}
	if seen["circle</w>"] {
		t.Errorf("a token for %q, which occurs once (MinFrequency 2)", "circle</w>")
	}
	// The most frequent pair merges first; "red" occurs four times.
	if m := v.Merges(); len(m) == 0 || (m[0] != [2]string{"r", "e"} && m[0] != [2]string{"e", "d</w>"}) {
		t.Errorf("first merge %q, want r+e or e+d</w>", m[:1])
	}
}

func TestLearnBPEOptions(t *testing.T) {
	captions := trainCaptions(300)
	v, err := LearnBPE(captions, BPEOptions{MaxMerges: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(v.Merges()); got != 10 {
		t.Errorf("MaxMerges 10: %d merges", got)
	}
	if _, err := LearnBPE([]string{"  ", ""}, BPEOptions{}); !errors.Is(err, ErrNoText) {
		t.Errorf("empty texts: err = %v, want ErrNoText", err)
	}
	if _, err := LearnBPE(captions, BPEOptions{MaxMerges: -1}); err == nil {
		t.Error("negative MaxMerges: no error")
	}
	a, _ := LearnBPE(captions, BPEOptions{})
	b, _ := LearnBPE(captions, BPEOptions{})
	if !slices.Equal(a.Tokens(), b.Tokens()) || !slices.Equal(a.Merges(), b.Merges()) {
		t.Error("two runs on the same texts learned different vocabularies")
	}
}
