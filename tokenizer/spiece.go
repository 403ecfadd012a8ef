package tokenizer

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
)

// SentencePiece piece types (sentencepiece_model.proto).
const (
	pieceNormal      = 1
	pieceUnknown     = 2
	pieceControl     = 3
	pieceUserDefined = 4
	pieceUnused      = 5
	pieceByte        = 6
)

// spModel is the part of a SentencePiece ModelProto this package uses.
type spModel struct {
	pieces       []string
	scores       []float64
	types        []int
	modelType    int // 1 Unigram, 2 BPE, 3 word, 4 char
	byteFallback bool
	unkID        int
	eosID        int
	charsmap     []byte
	addDummy     bool
	removeExtra  bool
}

// parseSpiece decodes a serialized ModelProto with protowire: field 1 the
// pieces {1 piece, 2 score, 3 type}, field 2 the TrainerSpec {3
// model_type, 35 byte_fallback, 40 unk_id, 42 eos_id}, field 3 the
// NormalizerSpec {2 precompiled_charsmap, 3 add_dummy_prefix, 4
// remove_extra_whitespaces}.
func parseSpiece(data []byte) (*spModel, error) {
	m := &spModel{modelType: 1, unkID: 0, eosID: 2, addDummy: true, removeExtra: true}
	err := eachField(data, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return m.addPiece(v)
		case num == 2 && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				if typ != protowire.VarintType {
					return nil
				}
				switch num {
				case 3:
					m.modelType = int(x)
				case 35:
					m.byteFallback = x != 0
				case 40:
					m.unkID = int(int32(x))
				case 42:
					m.eosID = int(int32(x))
				}
				return nil
			})
		case num == 3 && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 2 && typ == protowire.BytesType:
					m.charsmap = append([]byte(nil), v...)
				case num == 3 && typ == protowire.VarintType:
					m.addDummy = x != 0
				case num == 4 && typ == protowire.VarintType:
					m.removeExtra = x != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.pieces) == 0 {
		return nil, errors.New("no pieces")
	}
	return m, nil
}

func (m *spModel) addPiece(msg []byte) error {
	var (
		text  string
		score float64
		typ   = pieceNormal
		found bool
	)
	err := eachField(msg, func(num protowire.Number, wt protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && wt == protowire.BytesType:
			text, found = string(v), true
		case num == 2 && wt == protowire.Fixed32Type:
			score = float64(math.Float32frombits(uint32(x)))
		case num == 3 && wt == protowire.VarintType:
			typ = int(x)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("piece %d: %w", len(m.pieces), err)
	}
	if !found {
		return fmt.Errorf("piece %d has no text", len(m.pieces))
	}
	m.pieces = append(m.pieces, text)
	m.scores = append(m.scores, score)
	m.types = append(m.types, typ)
	return nil
}

// eachField calls fn for every field of a protobuf message: v holds the
// bytes of length-delimited fields, x the value of varint and fixed ones.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// loadSpiece builds a T5 tokenizer from spiece.model the way transformers
// converts it: the model's normalization rules, whitespace split,
// Metaspace with U+2581, Viterbi over piece scores, EOS appended.
func loadSpiece(dir string, cfg *config) (Tokenizer, error) {
	const file = "spiece.model"
	data, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, formatErr(file, "missing")
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	sp, err := parseSpiece(data)
	if err != nil {
		return nil, formatErr(file, "not a SentencePiece model: %v", err)
	}
	if sp.modelType != 1 {
		return nil, formatErr(file, "model type %d is not supported (want 1, Unigram)", sp.modelType)
	}
	if len(sp.pieces) >= maxVocab {
		return nil, formatErr(file, "%d pieces is too many", len(sp.pieces))
	}
	vocab := append([]string(nil), sp.pieces...)
	scores := append([]float64(nil), sp.scores...)
	var added []addedToken
	for id, t := range sp.types {
		switch t {
		case pieceControl, pieceUnknown:
			added = append(added, addedToken{content: sp.pieces[id], id: id, special: true})
		case pieceUserDefined:
			added = append(added, addedToken{content: sp.pieces[id], id: id})
		}
	}
	// T5 appends <extra_id_N> sentinels after the pieces, highest N first.
	for i := range cfg.extraIDs {
		tok := fmt.Sprintf("<extra_id_%d>", cfg.extraIDs-1-i)
		added = append(added, addedToken{content: tok, id: len(vocab), special: true})
		vocab = append(vocab, tok)
		scores = append(scores, 0)
	}
	for _, t := range cfg.decoderTokens {
		if t.id < len(vocab) && vocab[t.id] == t.content {
			added = append(added, t)
		}
	}
	// Control pieces stay matchable inside normalized text, as in the
	// tokenizer.json that transformers converts spiece.model into.
	m, err := newUnigram(file, vocab, scores, sp.unkID, sp.byteFallback)
	if err != nil {
		return nil, err
	}
	scheme := prependAlways
	if !sp.addDummy {
		scheme = prependNever
	} else if cfg.legacy != nil && !*cfg.legacy {
		scheme = prependFirst
	}
	p := &pipeline{
		added:   newAddedTokens(added),
		pretok:  []preTokenizer{whitespaceSplit{}, metaspace{replacement: "▁", scheme: scheme, splitWords: true}},
		model:   m,
		decoder: metaspaceDecoder{replacement: "▁", scheme: scheme},
		vocab:   vocab,
	}
	if len(sp.charsmap) > 0 {
		pc, err := parsePrecompiled(file, sp.charsmap)
		if err != nil {
			return nil, err
		}
		p.normalize = []normalizer{pc}
	}
	eos := cfg.eos
	if eos == "" && sp.eosID >= 0 && sp.eosID < len(vocab) {
		eos = vocab[sp.eosID]
	}
	if err := p.finish(file, cfg, orDefault(eos, "</s>")); err != nil {
		return nil, err
	}
	p.suffix = []int{p.eosID}
	return p, nil
}
