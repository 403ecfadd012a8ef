package pipeline

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/ort"
)

// conditioning holds the denoiser inputs derived from the prompts, batched
// the way diffusers batches them: with classifier-free guidance the
// unconditional half comes first, and each prompt repeats NumImages times.
type conditioning struct {
	inputs map[string]ort.Tensor
}

// stack concatenates rows into one [len(rows), dims...] tensor.
func stack(rows [][]float32, dims ...int64) ort.Tensor {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	data := make([]float32, 0, n)
	for _, r := range rows {
		data = append(data, r...)
	}
	return ort.Tensor{Shape: append([]int64{int64(len(rows))}, dims...), F32: data}
}

// batchRows orders per-prompt rows into the model batch: the negative rows
// (when guidance runs) then the positive ones, each prompt NumImages times.
func (q *resolved) batchRows(pos, neg [][]float32, cfg bool) [][]float32 {
	var rows [][]float32
	if cfg {
		for i := range pos {
			for j := 0; j < q.NumImages; j++ {
				rows = append(rows, neg[i])
			}
		}
	}
	for i := range pos {
		for j := 0; j < q.NumImages; j++ {
			rows = append(rows, pos[i])
		}
	}
	return rows
}

// encoderCache avoids encoding the same text twice in one request.
type encoderCache map[string]*embedding

func (c encoderCache) get(ctx context.Context, te *textEncoder, text string, maxLen int, hk hiddenKind, pk pooledKind) (*embedding, error) {
	key := fmt.Sprintf("%s|%d|%d|%d|%s", te.name, maxLen, hk, pk, text)
	if e, ok := c[key]; ok {
		return e, nil
	}
	e, err := te.encode(ctx, text, maxLen, hk, pk)
	if err != nil {
		return nil, err
	}
	c[key] = e
	return e, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// encodePrompts runs the family's text encoders.
func (p *diffusionPipeline) encodePrompts(ctx context.Context, q *resolved, encs []*textEncoder) (*conditioning, error) {
	cfg := q.cfg(p)
	cache := encoderCache{}
	c := &conditioning{inputs: map[string]ort.Tensor{}}
	switch p.family {
	case FamilySD, FamilyAnimateDiff:
		te := encs[0]
		chunked := q.PromptSyntax == PromptA1111
		enc := func(text string, maxLen int) (*embedding, error) {
			if chunked {
				return cache.getChunked(ctx, te, text, q.hidden(lastHidden), noPooled)
			}
			return cache.get(ctx, te, text, maxLen, q.hidden(lastHidden), noPooled)
		}
		var pos, neg [][]float32
		var dim int
		for _, prompt := range q.Prompts {
			e, err := enc(prompt, te.tok.ModelMaxLength())
			if err != nil {
				return nil, err
			}
			pos, dim = append(pos, e.hidden), e.dim
			if cfg {
				n, err := enc(q.NegativePrompt, e.seq)
				if err != nil {
					return nil, err
				}
				neg = append(neg, n.hidden)
			}
		}
		rows := q.batchRows(pos, neg, cfg)
		if chunked {
			empty, err := enc("", 0)
			if err != nil {
				return nil, err
			}
			rows = padChunks(rows, empty.hidden)
		}
		c.inputs["encoder_hidden_states"] = stack(rows, int64(len(rows[0])/dim), int64(dim))
		if q.lcm {
			c.inputs["timestep_cond"] = guidanceEmbedding(q.guidance, *p.den.TimeCondProjDim, q.batch)
		}
	case FamilySDXL:
		return p.encodeSDXL(ctx, q, encs, cache)
	case FamilySD3:
		return p.encodeSD3(ctx, q, encs, cache)
	case FamilyFlux:
		return p.encodeFlux(ctx, q, encs, cache)
	}
	return c, nil
}

// encodeSDXL concatenates the penultimate hidden states of both encoders
// and takes the pooled text_embeds of the second; an empty negative prompt
// becomes zeros when the checkpoint says force_zeros_for_empty_prompt.
func (p *diffusionPipeline) encodeSDXL(ctx context.Context, q *resolved, encs []*textEncoder, cache encoderCache) (*conditioning, error) {
	cfg := q.cfg(p)
	forceZeros := p.index.ForceZerosForEmptyPrompt == nil || *p.index.ForceZerosForEmptyPrompt
	zeroNeg := q.NegativePrompt == "" && q.NegativePrompt2 == "" && !q.ExplicitNegative && forceZeros
	chunked := q.PromptSyntax == PromptA1111
	enc := func(te *textEncoder, text string, maxLen int, pk pooledKind) (*embedding, error) {
		if chunked {
			return cache.getChunked(ctx, te, text, q.hidden(penultimateHidden), pk)
		}
		return cache.get(ctx, te, text, maxLen, q.hidden(penultimateHidden), pk)
	}
	pair := func(text1, text2 string, maxLen1, maxLen2 int) (hidden, pooled []float32, seq, dim int, err error) {
		e1, err := enc(encs[0], text1, maxLen1, noPooled)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		e2, err := enc(encs[1], text2, maxLen2, textEmbeds)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		if e1.seq != e2.seq {
			if chunked {
				return nil, nil, 0, 0, badRequest("SDXL prompts %q and %q fill %d and %d tokens; with the a1111 prompt syntax both encoders need the same number of 75-token chunks", text1, text2, e1.seq, e2.seq)
			}
			return nil, nil, 0, 0, fmt.Errorf("pipeline: SDXL encoders return %d and %d tokens; their tokenizers must agree on model_max_length", e1.seq, e2.seq)
		}
		return concatLastDim(e1.hidden, e2.hidden, e1.seq, e1.dim, e2.dim), e2.pooled, e1.seq, e1.dim + e2.dim, nil
	}
	var pos, neg, posPool, negPool [][]float32
	var seq, dim int
	for _, prompt := range q.Prompts {
		h, pl, s, d, err := pair(prompt, orDefault(q.Prompt2, prompt), encs[0].tok.ModelMaxLength(), encs[1].tok.ModelMaxLength())
		if err != nil {
			return nil, err
		}
		pos, posPool, seq, dim = append(pos, h), append(posPool, pl), s, d
		if !cfg {
			continue
		}
		if zeroNeg {
			neg, negPool = append(neg, make([]float32, len(h))), append(negPool, make([]float32, len(pl)))
			continue
		}
		nh, npl, _, _, err := pair(q.NegativePrompt, orDefault(q.NegativePrompt2, q.NegativePrompt), s, s)
		if err != nil {
			return nil, err
		}
		neg, negPool = append(neg, nh), append(negPool, npl)
	}
	rows := q.batchRows(pos, neg, cfg)
	if chunked {
		empty, _, _, _, err := pair("", "", 0, 0)
		if err != nil {
			return nil, err
		}
		rows = padChunks(rows, empty)
		seq = len(rows[0]) / dim
	}
	c := &conditioning{inputs: map[string]ort.Tensor{}}
	c.inputs["encoder_hidden_states"] = stack(rows, int64(seq), int64(dim))
	c.inputs["text_embeds"] = stack(q.batchRows(posPool, negPool, cfg), int64(len(posPool[0])))
	h, w := float32(q.Height), float32(q.Width)
	timeIDs := []float32{h, w, 0, 0, h, w} // original size, crop top-left, target size
	idRows := make([][]float32, c.inputs["text_embeds"].Shape[0])
	for i := range idRows {
		idRows[i] = timeIDs
	}
	c.inputs["time_ids"] = stack(idRows, 6)
	return c, nil
}

// encodeSD3 builds SD3's joint text sequence: both CLIP encoders'
// penultimate states side by side, zero-padded to the T5 width, followed by
// the T5 states; pooled projections are both CLIP text_embeds.
func (p *diffusionPipeline) encodeSD3(ctx context.Context, q *resolved, encs []*textEncoder, cache encoderCache) (*conditioning, error) {
	cfg := q.cfg(p)
	one := func(text, text2 string) (hidden, pooled []float32, seq, dim int, err error) {
		e1, err := cache.get(ctx, encs[0], text, encs[0].tok.ModelMaxLength(), q.hidden(penultimateHidden), textEmbeds)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		e2, err := cache.get(ctx, encs[1], text2, encs[1].tok.ModelMaxLength(), q.hidden(penultimateHidden), textEmbeds)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		clip := concatLastDim(e1.hidden, e2.hidden, e1.seq, e1.dim, e2.dim)
		clipDim := e1.dim + e2.dim
		var t5 []float32
		t5Seq, t5Dim := 0, p.den.JointAttentionDim
		if encs[2] != nil {
			e3, err := cache.get(ctx, encs[2], text, q.MaxSequenceLength, lastHidden, noPooled)
			if err != nil {
				return nil, nil, 0, 0, err
			}
			t5, t5Seq, t5Dim = e3.hidden, e3.seq, e3.dim
		} else {
			t5Seq = encs[0].tok.ModelMaxLength()
			if t5Dim == 0 {
				t5Dim = clipDim
			}
			t5 = make([]float32, t5Seq*t5Dim)
		}
		if clipDim > t5Dim {
			return nil, nil, 0, 0, fmt.Errorf("pipeline: SD3 CLIP width %d exceeds the T5 width %d", clipDim, t5Dim)
		}
		joint := make([]float32, 0, (e1.seq+t5Seq)*t5Dim)
		for s := 0; s < e1.seq; s++ {
			joint = append(joint, clip[s*clipDim:(s+1)*clipDim]...)
			joint = append(joint, make([]float32, t5Dim-clipDim)...)
		}
		joint = append(joint, t5...)
		pooled = append(append([]float32{}, e1.pooled...), e2.pooled...)
		return joint, pooled, e1.seq + t5Seq, t5Dim, nil
	}
	var pos, neg, posPool, negPool [][]float32
	var seq, dim int
	for _, prompt := range q.Prompts {
		h, pl, s, d, err := one(prompt, orDefault(q.Prompt2, prompt))
		if err != nil {
			return nil, err
		}
		pos, posPool, seq, dim = append(pos, h), append(posPool, pl), s, d
		if cfg {
			nh, npl, _, _, err := one(q.NegativePrompt, orDefault(q.NegativePrompt2, q.NegativePrompt))
			if err != nil {
				return nil, err
			}
			neg, negPool = append(neg, nh), append(negPool, npl)
		}
	}
	c := &conditioning{inputs: map[string]ort.Tensor{}}
	c.inputs["encoder_hidden_states"] = stack(q.batchRows(pos, neg, cfg), int64(seq), int64(dim))
	c.inputs["pooled_projections"] = stack(q.batchRows(posPool, negPool, cfg), int64(len(posPool[0])))
	return c, nil
}

// encodeFlux takes CLIP's pooled output and T5's last hidden state; Flux
// is guidance-distilled, so there is no unconditional branch.
func (p *diffusionPipeline) encodeFlux(ctx context.Context, q *resolved, encs []*textEncoder, cache encoderCache) (*conditioning, error) {
	var pos, pools [][]float32
	var seq, dim int
	for _, prompt := range q.Prompts {
		e1, err := cache.get(ctx, encs[0], prompt, encs[0].tok.ModelMaxLength(), noHidden, pooledOutput)
		if err != nil {
			return nil, err
		}
		e2, err := cache.get(ctx, encs[1], orDefault(q.Prompt2, prompt), q.MaxSequenceLength, lastHidden, noPooled)
		if err != nil {
			return nil, err
		}
		pos, pools, seq, dim = append(pos, e2.hidden), append(pools, e1.pooled), e2.seq, e2.dim
	}
	c := &conditioning{inputs: map[string]ort.Tensor{}}
	c.inputs["encoder_hidden_states"] = stack(q.batchRows(pos, nil, false), int64(seq), int64(dim))
	c.inputs["pooled_projections"] = stack(q.batchRows(pools, nil, false), int64(len(pools[0])))
	c.inputs["txt_ids"] = ort.Tensor{Shape: []int64{int64(seq), 3}, F32: make([]float32, seq*3)}
	return c, nil
}

// concatLastDim joins two [seq, a] and [seq, b] matrices into [seq, a+b].
func concatLastDim(x, y []float32, seq, a, b int) []float32 {
	out := make([]float32, 0, seq*(a+b))
	for s := 0; s < seq; s++ {
		out = append(out, x[s*a:(s+1)*a]...)
		out = append(out, y[s*b:(s+1)*b]...)
	}
	return out
}
