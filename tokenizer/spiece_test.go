package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// spPiece is one piece to serialize into a test spiece.model.
type spPiece struct {
	text  string
	score float32
	typ   int
}

// encodeSpiece serializes a minimal SentencePiece ModelProto.
func encodeSpiece(pieces []spPiece, unkID, eosID int, byteFallback bool, charsmap []byte) []byte {
	var out []byte
	for _, p := range pieces {
		var msg []byte
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, p.text)
		msg = protowire.AppendTag(msg, 2, protowire.Fixed32Type)
		msg = protowire.AppendFixed32(msg, math.Float32bits(p.score))
		msg = protowire.AppendTag(msg, 3, protowire.VarintType)
		msg = protowire.AppendVarint(msg, uint64(p.typ))
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, msg)
	}
	var trainer []byte
	trainer = protowire.AppendTag(trainer, 3, protowire.VarintType)
	trainer = protowire.AppendVarint(trainer, 1)
	if byteFallback {
		trainer = protowire.AppendTag(trainer, 35, protowire.VarintType)
		trainer = protowire.AppendVarint(trainer, 1)
	}
	trainer = protowire.AppendTag(trainer, 40, protowire.VarintType)
	trainer = protowire.AppendVarint(trainer, uint64(unkID))
	trainer = protowire.AppendTag(trainer, 42, protowire.VarintType)
	trainer = protowire.AppendVarint(trainer, uint64(eosID))
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendBytes(out, trainer)
	var normSpec []byte
	normSpec = protowire.AppendTag(normSpec, 1, protowire.BytesType)
	normSpec = protowire.AppendString(normSpec, "nmt_nfkc")
	if len(charsmap) > 0 {
		normSpec = protowire.AppendTag(normSpec, 2, protowire.BytesType)
		normSpec = protowire.AppendBytes(normSpec, charsmap)
	}
	out = protowire.AppendTag(out, 3, protowire.BytesType)
	out = protowire.AppendBytes(out, normSpec)
	return out
}

// spieceFromTokenizerJSON writes the Unigram model of dir/tokenizer.json
// as a spiece.model: same pieces, scores and normalization rules.
func spieceFromTokenizerJSON(t *testing.T, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj struct {
		Normalizer struct {
			Charsmap string `json:"precompiled_charsmap"`
		} `json:"normalizer"`
		Model struct {
			UnkID int     `json:"unk_id"`
			Vocab [][]any `json:"vocab"`
		} `json:"model"`
		AddedTokens []jsonAddedToken `json:"added_tokens"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		t.Fatal(err)
	}
	special := map[int]bool{}
	for _, a := range tj.AddedTokens {
		special[a.ID] = a.Special
	}
	var pieces []spPiece
	eos := -1
	for id, e := range tj.Model.Vocab {
		p := spPiece{text: e[0].(string), score: float32(e[1].(float64)), typ: pieceNormal}
		switch {
		case id == tj.Model.UnkID:
			p.typ = pieceUnknown
		case special[id]:
			p.typ = pieceControl
		}
		if p.text == "</s>" {
			eos = id
		}
		pieces = append(pieces, p)
	}
	charsmap, err := base64.StdEncoding.DecodeString(tj.Normalizer.Charsmap)
	if err != nil {
		t.Fatal(err)
	}
	return encodeSpiece(pieces, tj.Model.UnkID, eos, false, charsmap)
}

// toySpiece is a small model with byte fallback for the table tests.
func toySpiece(byteFallback bool) []byte {
	pieces := []spPiece{
		{"<pad>", 0, pieceControl}, {"</s>", 0, pieceControl}, {"<unk>", 0, pieceUnknown},
		{"▁", -2, pieceNormal}, {"▁a", -1, pieceNormal}, {"▁cat", -1.5, pieceNormal},
		{"c", -3, pieceNormal}, {"a", -3, pieceNormal}, {"t", -3, pieceNormal}, {"▁ca", -2.5, pieceNormal},
	}
	if byteFallback {
		for b := range 256 {
			pieces = append(pieces, spPiece{text: byteTokenName(byte(b)), score: 0, typ: pieceByte})
		}
	}
	return encodeSpiece(pieces, 2, 1, byteFallback, nil)
}

func byteTokenName(b byte) string {
	const hex = "0123456789ABCDEF"
	return "<0x" + string(hex[b>>4]) + string(hex[b&15]) + ">"
}

func loadToySpiece(t *testing.T, byteFallback bool) Tokenizer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), toySpiece(byteFallback), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSpieceEncode(t *testing.T) {
	plain := loadToySpiece(t, false)
	bytes := loadToySpiece(t, true)
	tests := []struct {
		name string
		tok  Tokenizer
		text string
		want []string
	}{
		{"viterbi prefers fewer better pieces", plain, "a cat", []string{"▁a", "▁cat", "</s>"}},
		{"whitespace collapsed", plain, "  a \t cat  ", []string{"▁a", "▁cat", "</s>"}},
		{"empty", plain, "", []string{"</s>"}},
		{"unknown characters fuse", plain, "cxyz", []string{"▁", "c", "<unk>", "</s>"}},
		{"special token in text", plain, "a</s>cat", []string{"▁a", "</s>", "▁cat", "</s>"}},
		{"byte fallback", bytes, "aé", []string{"▁a", "<0xC3>", "<0xA9>", "</s>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.tok.Tokens(tt.tok.Encode(tt.text))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Encode(%q) tokens = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
	if got := bytes.Decode(bytes.Encode("a caté")); got != "a caté" {
		t.Errorf("Decode(Encode(%q)) = %q", "a caté", got)
	}
}

func TestSpieceErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "no pieces"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "not a SentencePiece model"},
		{"truncated", toySpiece(false)[:20], "not a SentencePiece model"},
		{"missing byte pieces", encodeSpiece([]spPiece{{"<unk>", 0, pieceUnknown}, {"</s>", 0, pieceControl}}, 0, 1, true, nil), "<0x00> is missing"},
		{"bad unk id", encodeSpiece([]spPiece{{"</s>", 0, pieceControl}}, 5, 0, false, nil), "unknown-token id 5"},
		{"bad charsmap", encodeSpiece([]spPiece{{"<unk>", 0, pieceUnknown}, {"</s>", 0, pieceControl}}, 0, 1, false, []byte{9, 0, 0, 0, 1}), "precompiled_charsmap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "spiece.model"), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "spiece.model" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want a spiece.model FormatError containing %q", err, tt.want)
			}
		})
	}
}
