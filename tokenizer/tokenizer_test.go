package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clipWords joins the tokens of ids between BOS and EOS and cuts them at
// the end-of-word marker: the pre-tokenized words, independent of merges.
func clipWords(tok Tokenizer, ids []int) []string {
	var b strings.Builder
	for _, s := range tok.Tokens(ids[1 : len(ids)-1]) {
		b.WriteString(s)
	}
	words := strings.Split(b.String(), "</w>")
	return words[:len(words)-1]
}

func sd1Tokenizer(t *testing.T) Tokenizer {
	t.Helper()
	tok, err := Load(fixtureFolder(t, "sd1-tiny/tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCLIPPreTokenization(t *testing.T) {
	tok := sd1Tokenizer(t)
	tests := []struct {
		text string
		want []string // words in byte-level spelling
	}{
		{"a cat", []string{"a", "cat"}},
		{"It's a DOG'S life", []string{"it", "'s", "a", "dog", "'s", "life"}},
		{"they're we'll", []string{"they", "'re", "we", "'ll"}},
		{"'red", []string{"'re", "d"}},
		{"abc123", []string{"abc", "1", "2", "3"}},
		{"wow!!! ...ok", []string{"wow", "!!!", "...", "ok"}},
		{"café", []string{"cafÃ©"}},       // NFC, then bytes C3 A9
		{"cafe\u0301", []string{"cafÃ©"}}, // combining accent composes under NFC
		{"ÉCOLE", []string{"Ã©cole"}},     // lowercase beyond ASCII
		{"日本", []string{"æĹ¥æľ¬"}},        // CJK letters stay one word
		{"🙂x", []string{"ðŁĻĤ", "x"}},     // emoji is a symbol run
		{"a\u3000b", []string{"a", "b"}},  // ideographic space is whitespace
		// Lowercased after the special-token split, so not special; the
		// byte-level GPT-2 split then cuts it, as tokenizers does.
		{"x<|ENDOFTEXT|>", []string{"x", "<|", "endoftext", "|>"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			ids := tok.Encode(tt.text)
			if got := clipWords(tok, ids); !slices.Equal(got, tt.want) {
				t.Errorf("words of %q = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestCLIPSpecialsAndLengths(t *testing.T) {
	tok := sd1Tokenizer(t)
	const bos, eos = 785, 786
	tests := []struct {
		name string
		text string
		max  int
		want func(ids []int) bool
	}{
		{"empty", "", -1, func(ids []int) bool { return slices.Equal(ids, []int{bos, eos}) }},
		{"special tokens inside text", "a<|endoftext|>b<|startoftext|>", -1, func(ids []int) bool {
			return len(ids) == 6 && ids[2] == eos && ids[4] == bos
		}},
		{"over-long prompt keeps EOS last", strings.Repeat("purple ", 100), 77, func(ids []int) bool {
			return len(ids) == 77 && ids[0] == bos && ids[76] == eos && ids[75] != eos
		}},
		{"padding", "a", 5, func(ids []int) bool { return len(ids) == 5 && ids[2] == eos && ids[3] == eos && ids[4] == eos }},
		{"max length below specials", "a b c", 1, func(ids []int) bool { return slices.Equal(ids, []int{eos}) }},
		{"invalid UTF-8", "a\xff\xfeb", -1, func(ids []int) bool { return ids[0] == bos && ids[len(ids)-1] == eos }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []int
			if tt.max < 0 {
				ids = tok.Encode(tt.text)
			} else {
				ids = tok.EncodePadded(tt.text, tt.max)
			}
			if !tt.want(ids) {
				t.Errorf("ids of %q (max %d) = %v", tt.text, tt.max, ids)
			}
		})
	}
	if got := clipWords(tok, tok.Encode("a\xffb")); !slices.Equal(got, []string{"a", "ï¿½", "b"}) {
		t.Errorf("invalid byte words = %q, want U+FFFD between a and b", got)
	}
}

func TestCLIPDecode(t *testing.T) {
	tok := sd1Tokenizer(t)
	tests := []struct{ text, want string }{
		{"A Painting of a squirrel", "a painting of a squirrel"},
		{"  spaced\tout\n", "spaced out"},
		{"café 日本 🙂", "café 日本 🙂"},
		{"a<|endoftext|>b", "a b"},
		{"don't stop!", "don 't stop !"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := tok.Decode(tok.Encode(tt.text)); got != tt.want {
				t.Errorf("Decode(Encode(%q)) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	vocab := `{"a": 0, "b": 1, "ab": 2, "a</w>": 3, "b</w>": 4, "ab</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7}`
	tests := []struct {
		name     string
		files    map[string]string
		file     string // FormatError.File, or "" for ErrNoTokenizer
		contains string
	}{
		{"empty folder", map[string]string{}, "", "no tokenizer files"},
		{"vocab without merges", map[string]string{"vocab.json": vocab}, "merges.txt", "missing"},
		{"merges without vocab", map[string]string{"merges.txt": "a b\n"}, "vocab.json", "missing"},
		{"vocab not JSON", map[string]string{"vocab.json": "{", "merges.txt": "a b\n"}, "vocab.json", "JSON"},
		{"negative id", map[string]string{"vocab.json": `{"a": -1}`, "merges.txt": "a b\n"}, "vocab.json", "outside"},
		{"merge line with three tokens", map[string]string{"vocab.json": vocab, "merges.txt": "#version: 0.2\na b c\n"}, "merges.txt", "line 2"},
		{"merge of unknown token", map[string]string{"vocab.json": vocab, "merges.txt": "a z\n"}, "merges.txt", "not in the vocabulary"},
		{"merge result missing", map[string]string{"vocab.json": vocab, "merges.txt": "b a\n"}, "merges.txt", `"ba"`},
		{"config not JSON", map[string]string{"vocab.json": vocab, "merges.txt": "a b\n", "tokenizer_config.json": "["}, "tokenizer_config.json", "JSON"},
		{"tokenizer.json not JSON", map[string]string{"tokenizer.json": "nope"}, "tokenizer.json", "JSON"},
		{"tokenizer.json unknown model", map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece"}}`}, "tokenizer.json", "WordPiece"},
		{"tokenizer.json unknown normalizer", map[string]string{"tokenizer.json": `{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`}, "tokenizer.json", "BertNormalizer"},
		{"tokenizer.json look-ahead pattern", map[string]string{"tokenizer.json": `{"pre_tokenizer": {"type": "Split", "behavior": "Removed", "pattern": {"Regex": "\\s+(?!\\S)"}}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`}, "tokenizer.json", "Split pattern"},
		{"unigram without unk", map[string]string{"tokenizer.json": `{"model": {"type": "Unigram", "vocab": [["a", -1]]}}`}, "tokenizer.json", "unk_id"},
		{"unigram bad entry", map[string]string{"tokenizer.json": `{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a"]]}}`}, "tokenizer.json", "vocab[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.files))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if tt.file == "" {
				if !errors.Is(err, ErrNoTokenizer) {
					t.Errorf("Load error = %v, want ErrNoTokenizer", err)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != tt.file || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Load error = %v, want a %s FormatError containing %q", err, tt.file, tt.contains)
			}
		})
	}
	// A special token missing from vocab.json gets the next id, as
	// transformers adds it.
	tok, err := Load(write(t, map[string]string{"vocab.json": vocab, "merges.txt": "a b\n", "special_tokens_map.json": `{"pad_token": "<pad>"}`}))
	if err != nil || tok.PadID() != 8 || tok.Tokens([]int{8})[0] != "<pad>" {
		t.Errorf("pad token outside vocab.json: err %v, PadID %v", err, tok)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("Load of a missing folder succeeded")
	}
}
