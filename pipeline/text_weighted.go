package pipeline

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/prompt"
)

// Prompt syntaxes of Request.PromptSyntax.
const (
	// PromptLiteral reads prompts as plain text, as diffusers does.
	PromptLiteral = ""
	// PromptA1111 reads AUTOMATIC1111's syntax (package prompt):
	// (emphasis), [de-emphasis], (word:1.3), BREAK, and prompts longer
	// than 75 tokens encoded in chunks. SD 1.x/2.x and SDXL.
	PromptA1111 = "a1111"
)

// encodeChunked encodes text as AUTOMATIC1111 does: parsed into weighted
// spans, tokenized into 77-token chunks, each chunk encoded alone and its
// hidden states emphasized by the token weights (scale, then restore the
// mean), the chunks' states concatenated; the pooled output is the first
// chunk's.
func (te *textEncoder) encodeChunked(ctx context.Context, text string, hk hiddenKind, pk pooledKind) (*embedding, error) {
	chunks, err := prompt.Chunks(te.tok, prompt.Parse(text))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", te.name, err)
	}
	var out *embedding
	for i, c := range chunks {
		e, err := te.run(ctx, c.IDs, hk, pk)
		if err != nil {
			return nil, err
		}
		if e.seq != len(c.IDs) {
			return nil, fmt.Errorf("pipeline: %s returned %d positions for %d tokens", te.name, e.seq, len(c.IDs))
		}
		prompt.Emphasize(e.hidden, c.Weights)
		if i == 0 {
			out = e
			continue
		}
		out.hidden = append(out.hidden, e.hidden...)
		out.seq += e.seq
	}
	return out, nil
}

// getChunked is encoderCache.get for encodeChunked.
func (c encoderCache) getChunked(ctx context.Context, te *textEncoder, text string, hk hiddenKind, pk pooledKind) (*embedding, error) {
	key := fmt.Sprintf("%s|chunked|%d|%d|%s", te.name, hk, pk, text)
	if e, ok := c[key]; ok {
		return e, nil
	}
	e, err := te.encodeChunked(ctx, text, hk, pk)
	if err != nil {
		return nil, err
	}
	c[key] = e
	return e, nil
}

// padChunks makes every row of rows as long as the longest by appending
// the hidden states of the empty prompt's chunk, as AUTOMATIC1111 pads a
// prompt and its negative of different chunk counts. Rows are [seq, dim]
// with seq a multiple of the chunk length of empty.
func padChunks(rows [][]float32, empty []float32) [][]float32 {
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(r))
	}
	for i, r := range rows {
		for len(r) < longest {
			r = append(r[:len(r):len(r)], empty...)
		}
		rows[i] = r
	}
	return rows
}
