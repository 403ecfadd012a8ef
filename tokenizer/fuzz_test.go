package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var fuzzSeeds = []string{
	"", "a cat", "A painting of a squirrel eating a burger", "  Multiple   spaces\tand\nnewlines  ",
	"it's they're 'red", "café cafe\u0301 ÉCOLE İstanbul", "日本語のテキスト", "🙂👍🏽 🏳️‍🌈", "!!!...??",
	"a<|endoftext|>b<|startoftext|>", "<|end<|endoftext|>oftext|>", "\xff\xfe invalid \xc3", "x\u3000y\u00a0z",
	"１２３ ｆｕｌｌ", "</s><pad><unk>", "▁already▁marked", strings.Repeat("long ", 50),
}

func dropSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// FuzzCLIPEncode checks that encoding never panics, that ids stay in the
// vocabulary, that padding gives the asked length, and that decoding gives
// back the normalized text (spaces aside: decoding puts one between words).
func FuzzCLIPEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok := loadFixtureForFuzz(f, "sd1-tiny/tokenizer")
	p := tok.(*pipeline)
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text)
		checkIDsInVocab(t, p, ids)
		if n := len(tok.EncodePadded(text, 77)); n != 77 {
			t.Fatalf("EncodePadded(%q, 77) has %d ids", text, n)
		}
		want := validUTF8(text)
		for _, sp := range []string{clipBOS, clipEOS} {
			want = strings.ReplaceAll(want, sp, " ")
		}
		for _, n := range p.normalize {
			want = n.normalize(want)
		}
		if got := tok.Decode(ids); dropSpace(got) != dropSpace(want) {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q (spaces aside)", text, got, want)
		}
	})
}

// FuzzT5Encode checks the Unigram pipeline never panics and keeps its ids
// in the vocabulary, with and without padding.
func FuzzT5Encode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok := loadFixtureForFuzz(f, "sd3-tiny/tokenizer_3")
	p := tok.(*pipeline)
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text)
		checkIDsInVocab(t, p, ids)
		if len(ids) == 0 || ids[len(ids)-1] != tok.EOSID() {
			t.Fatalf("Encode(%q) = %v does not end with EOS", text, ids)
		}
		padded := tok.EncodePadded(text, 8)
		if len(padded) != 8 {
			t.Fatalf("EncodePadded(%q, 8) has %d ids", text, len(padded))
		}
		_ = tok.Decode(ids)
	})
}

// FuzzSpieceModel feeds arbitrary bytes to the spiece.model reader: it must
// return a tokenizer or an error, never panic, and a tokenizer it returns
// must encode.
func FuzzSpieceModel(f *testing.F) {
	f.Add(toySpiece(false))
	f.Add(toySpiece(true))
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "spiece.model"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(dir)
		if err != nil {
			return
		}
		_ = tok.Decode(tok.EncodePadded("a cat é 🙂", 16))
	})
}

// FuzzPrecompiledCharsmap feeds arbitrary rule blobs and texts to the
// Precompiled normalizer.
func FuzzPrecompiledCharsmap(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 0}, "abc")
	f.Add([]byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, "é")
	f.Fuzz(func(t *testing.T, blob []byte, text string) {
		pc, err := parsePrecompiled("fuzz", blob)
		if err != nil {
			return
		}
		_ = pc.normalize(validUTF8(text))
	})
}

func checkIDsInVocab(t *testing.T, p *pipeline, ids []int) {
	t.Helper()
	for _, id := range ids {
		if id < 0 || id >= len(p.vocab) {
			t.Fatalf("id %d outside a vocabulary of %d", id, len(p.vocab))
		}
	}
}

func loadFixtureForFuzz(f *testing.F, rel string) Tokenizer {
	f.Helper()
	tok, err := Load(fixtureFolder(f, rel))
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// FuzzCLIPFastPaths checks the hand-written CLIP split and whitespace
// collapse against the regular expressions they replace.
func FuzzCLIPFastPaths(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	re, err := compileOnig(clipPattern)
	if err != nil {
		f.Fatal(err)
	}
	slow := regexSplit{re: re, behavior: splitRemoved, invert: true}
	ws, err := compileOnig(`\s+`)
	if err != nil {
		f.Fatal(err)
	}
	slowSpace := replace{re: ws, content: " "}
	f.Fuzz(func(t *testing.T, text string) {
		text = validUTF8(text)
		if got, want := (collapseSpace{}).normalize(text), slowSpace.normalize(text); got != want {
			t.Fatalf("collapseSpace(%q) = %q, regexp gives %q", text, got, want)
		}
		in := []word{{text: text, atStart: true}}
		got, want := (clipSplit{}).split(in), slow.split(in)
		if !slices.Equal(got, want) {
			t.Fatalf("clipSplit(%q) = %+v, regexp gives %+v", text, got, want)
		}
	})
}
