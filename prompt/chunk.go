package prompt

import (
	"errors"
	"fmt"
)

// ChunkTokens is the number of prompt tokens in one chunk; with the start
// and end tokens a chunk fills CLIP's 77 positions.
const ChunkTokens = 75

// CommaBacktrack is AUTOMATIC1111's default comma_padding_backtrack: when a
// chunk fills up within this many tokens after a comma, the words after
// the comma move to the next chunk.
const CommaBacktrack = 20

// Chunk is one encoder input: ChunkTokens+2 token ids and one weight per
// id.
type Chunk struct {
	IDs     []int
	Weights []float32
}

// Tokenizer is what Chunks needs of a CLIP tokenizer (tokenizer.Tokenizer
// has it).
type Tokenizer interface {
	// Encode returns text's ids with the start and end tokens.
	Encode(text string) []int
	// PadID is the id after the end token (the end token itself for SD
	// 1.x's tokenizer, "!" for OpenCLIP's).
	PadID() int
}

// ErrNotCLIP is returned by Chunks for a tokenizer that does not wrap its
// ids in start and end tokens.
var ErrNotCLIP = errors.New("prompt: chunked prompts need a CLIP tokenizer (start and end tokens)")

// Chunks tokenizes the spans into chunks the way AUTOMATIC1111 does: each
// span tokenized alone, 75 tokens a chunk, a BREAK or a full chunk
// starting the next (moving the words after a comma within
// CommaBacktrack tokens of the end), each chunk padded with end tokens and
// wrapped in start and end tokens; after the first end token every id is
// the tokenizer's pad id. There is always at least one chunk.
func Chunks(tok Tokenizer, spans []Span) ([]Chunk, error) {
	empty := tok.Encode("")
	if len(empty) != 2 {
		return nil, ErrNotCLIP
	}
	start, end := empty[0], empty[1]
	comma := -1
	if ids := tok.Encode(","); len(ids) == 3 {
		comma = ids[1]
	}
	var chunks []Chunk
	var ids []int
	var ws []float32
	lastComma := -1
	next := func() {
		for len(ids) < ChunkTokens {
			ids, ws = append(ids, end), append(ws, 1)
		}
		c := Chunk{IDs: make([]int, 0, ChunkTokens+2), Weights: make([]float32, 0, ChunkTokens+2)}
		c.IDs = append(append(append(c.IDs, start), ids...), end)
		c.Weights = append(append(append(c.Weights, 1), ws...), 1)
		seenEnd := false
		for i, id := range c.IDs {
			if seenEnd {
				c.IDs[i] = tok.PadID()
			}
			seenEnd = seenEnd || id == end
		}
		chunks = append(chunks, c)
		ids, ws, lastComma = nil, nil, -1
	}
	for _, s := range spans {
		if s.Break {
			next()
			continue
		}
		toks := tok.Encode(s.Text)
		if len(toks) < 2 {
			return nil, fmt.Errorf("%w: %q encodes to %v", ErrNotCLIP, s.Text, toks)
		}
		toks = toks[1 : len(toks)-1]
		for _, id := range toks {
			if id == comma {
				lastComma = len(ids)
			} else if len(ids) == ChunkTokens && lastComma != -1 && len(ids)-lastComma <= CommaBacktrack {
				cut := lastComma + 1
				movedIDs := append([]int(nil), ids[cut:]...)
				movedWs := append([]float32(nil), ws[cut:]...)
				ids, ws = ids[:cut], ws[:cut]
				next()
				ids, ws = movedIDs, movedWs
			}
			if len(ids) == ChunkTokens {
				next()
			}
			ids, ws = append(ids, id), append(ws, float32(s.Weight))
		}
	}
	if len(ids) > 0 || len(chunks) == 0 {
		next()
	}
	return chunks, nil
}

// Emphasize applies per-token weights to hidden states z ([len(weights),
// dim], row-major) as AUTOMATIC1111's "Original" emphasis does: each
// token's row is multiplied by its weight, then the whole is rescaled so
// that its mean is the mean it had before. The sums run in float64: the
// mean of layer-normed states is near zero, so their ratio is sensitive to
// rounding.
func Emphasize(z []float32, weights []float32) {
	if len(weights) == 0 || len(z)%len(weights) != 0 {
		return
	}
	dim := len(z) / len(weights)
	var before, after float64
	for t, w := range weights {
		var row float64
		for _, v := range z[t*dim : (t+1)*dim] {
			row += float64(v)
		}
		before += row
		after += row * float64(w)
	}
	if after == 0 {
		return
	}
	scale := before / after
	for t, w := range weights {
		k := float64(w) * scale
		r := z[t*dim : (t+1)*dim]
		for i, v := range r {
			r[i] = float32(float64(v) * k)
		}
	}
}
