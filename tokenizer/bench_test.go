package tokenizer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const typicalPrompt = "a photograph of an astronaut riding a horse on mars, highly detailed, sharp focus, 8k, trending on artstation, by greg rutkowski"

// Full-size CLIP: 49,408 entries = 256 bytes + 256 bytes with "</w>" +
// 48,894 merges + BOS + EOS.
const fullCLIPMerges = 48894

// writeFullCLIP writes a vocab.json + merges.txt of CLIP's real size into
// dir. The merges join random pieces, so common English words still take
// several merges, as with the real vocabulary.
func writeFullCLIP(tb testing.TB, dir string) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	vocab := map[string]int{}
	var pieces []string // tokens that can start a merge (no "</w>")
	var all []string
	add := func(tok string) {
		vocab[tok] = len(vocab)
		all = append(all, tok)
		if !strings.HasSuffix(tok, "</w>") {
			pieces = append(pieces, tok)
		}
	}
	for b := range 256 {
		add(byteRunes[b])
	}
	for b := range 256 {
		add(byteRunes[b] + "</w>")
	}
	// The first merges join letters so that words build up in steps.
	letters := []string{}
	for c := 'a'; c <= 'z'; c++ {
		letters = append(letters, string(c), string(c)+"</w>")
	}
	const letterMerges = 1000 // of the 26*52 letter pairs
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for n := 0; n < fullCLIPMerges; {
		var a, b string
		if n < letterMerges {
			a, b = letters[2*rng.IntN(26)], letters[rng.IntN(len(letters))]
		} else {
			a, b = pieces[rng.IntN(len(pieces))], all[rng.IntN(len(all))]
		}
		if _, ok := vocab[a+b]; ok {
			continue
		}
		add(a + b)
		merges.WriteString(a + " " + b + "\n")
		n++
	}
	add(clipBOS)
	add(clipEOS)
	if len(vocab) != 49408 {
		tb.Fatalf("generated %d entries, want 49408", len(vocab))
	}
	// Written like transformers writes it: "<" and ">" unescaped.
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(vocab); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), data.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(merges.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkLoadFullCLIP(b *testing.B) {
	dir := b.TempDir()
	writeFullCLIP(b, dir)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	full := b.TempDir()
	writeFullCLIP(b, full)
	cases := []struct {
		name, dir string
		cold      bool // clear the word cache every time
	}{
		{"clip-full-size", full, false},
		{"clip-full-size-cold", full, true},
		{"clip-sd1-tiny", fixtureFolder(b, "sd1-tiny/tokenizer"), false},
		{"t5-sd3-tiny", fixtureFolder(b, "sd3-tiny/tokenizer_3"), false},
	}
	for _, c := range cases {
		tok, err := Load(c.dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			m, _ := tok.(*pipeline).model.(*bpe)
			for b.Loop() {
				if c.cold && m != nil {
					m.mu.Lock()
					m.cache = nil
					m.mu.Unlock()
				}
				tok.EncodePadded(typicalPrompt, 77)
			}
		})
	}
}
