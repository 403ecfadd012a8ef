package onnxexport

import (
	"fmt"
	"math"
)

// CLIPTextConfig is the subset of transformers' CLIPTextConfig the builder
// implements.
type CLIPTextConfig struct {
	VocabSize              int64
	HiddenSize             int64
	IntermediateSize       int64
	NumLayers              int
	NumHeads               int64
	MaxPositionEmbeddings  int64
	HiddenAct              string // "quick_gelu" (SD 1.x) or "gelu"
	LayerNormEps           float64
	BOSTokenID, EOSTokenID int64
	// ProjectionDim > 0 builds CLIPTextModelWithProjection: the pooled
	// state through text_projection (no bias), output as text_embeds in
	// place of pooler_output (SDXL's second encoder).
	ProjectionDim int64
	// HiddenStates adds Optimum's hidden_states.0 (the embeddings) …
	// hidden_states.NumLayers outputs, as SDXL exports have them.
	HiddenStates bool
}

// Validate checks the configuration.
func (c *CLIPTextConfig) Validate() error {
	if c.VocabSize < 1 || c.HiddenSize < 1 || c.NumHeads < 1 || c.HiddenSize%c.NumHeads != 0 || c.NumLayers < 1 || c.MaxPositionEmbeddings < 1 || c.IntermediateSize < 1 {
		return fmt.Errorf("onnxexport: clip config: %w: vocab %d, hidden %d, heads %d, layers %d, positions %d, intermediate %d", ErrArgument, c.VocabSize, c.HiddenSize, c.NumHeads, c.NumLayers, c.MaxPositionEmbeddings, c.IntermediateSize)
	}
	return nil
}

// CLIPTextOutputs are the text transformer's results.
type CLIPTextOutputs struct {
	LastHiddenState *Value // [B,S,C] after final_layer_norm
	PooledOutput    *Value // [B,C], the state at the EOS token
	// HiddenStates are the embeddings and each layer's output, before
	// final_layer_norm (transformers' hidden_states).
	HiddenStates []*Value
}

// CLIPTextTransformer builds transformers' CLIPTextModel on ids [B,S]
// (int32 or int64): token plus position embeddings, pre-LayerNorm encoder
// layers with causal self-attention, final_layer_norm, and the pooled
// output at each row's EOS token, found (as in the original CLIP) as the
// position of the largest id, since EOS has the highest id.
func (l *Layers) CLIPTextTransformer(cfg CLIPTextConfig, ids *Value) CLIPTextOutputs {
	fail := CLIPTextOutputs{LastHiddenState: l.placeholder(l.DType), PooledOutput: l.placeholder(l.DType)}
	if err := cfg.Validate(); err != nil {
		l.Fail("CLIPTextTransformer", err)
		return fail
	}
	if !l.check("CLIPTextTransformer", ids) {
		return fail
	}
	if ids.Rank() != 2 {
		l.failf("CLIPTextTransformer", ErrShape, "input_ids %v must be [batch, sequence]", ids.shape)
		return fail
	}
	defer l.Scope("text_model")()
	c := cfg.HiddenSize
	seqLen := l.DimOf(ids, 1)

	emb := l.Scope("embeddings")
	tok := l.Embedding("token_embedding", ids, cfg.VocabSize, c, 0.02)
	undo := l.Scope("position_embedding")
	posTable := l.normalParam("weight", 0.01, cfg.MaxPositionEmbeddings, c)
	undo()
	pos := l.SliceTo(posTable, l.ConstInts(0), seqLen, 0)
	emb()
	h := l.Add(tok, pos)
	hidden := []*Value{h}

	// Additive causal mask: 0 on and below the diagonal, the most negative
	// float above it, cut to the run-time sequence length.
	p := cfg.MaxPositionEmbeddings
	mask := l.newTensor([]int64{p, p}, func() float64 { return 0 })
	for i := range p {
		for j := i + 1; j < p; j++ {
			if mask.DType == Float64 {
				mask.Float64[i*p+j] = -math.MaxFloat64
			} else {
				mask.Float32[i*p+j] = -math.MaxFloat32
			}
		}
	}
	causal := l.SliceTo(l.Const(mask), l.ConstInts(0, 0), l.Concat(0, seqLen, seqLen), 0, 1)

	heads := cfg.NumHeads
	headDim := c / heads
	enc := l.Scope("encoder")
	for i := range cfg.NumLayers {
		done := l.Scope("layers." + itoa(i))
		x := l.LayerNorm("layer_norm1", h, cfg.LayerNormEps)
		attn := l.Scope("self_attn")
		q := l.splitHeads(l.Linear("q_proj", x, c, true), heads, headDim, false)
		kT := l.splitHeads(l.Linear("k_proj", x, c, true), heads, headDim, true)
		v := l.splitHeads(l.Linear("v_proj", x, c, true), heads, headDim, false)
		a := l.Linear("out_proj", l.scaledDotProduct(q, kT, v, causal, heads, headDim), c, true)
		attn()
		h = l.Add(h, a)
		x = l.LayerNorm("layer_norm2", h, cfg.LayerNormEps)
		mlp := l.Scope("mlp")
		x = l.Linear("fc2", l.Activation(cfg.HiddenAct, l.Linear("fc1", x, cfg.IntermediateSize, true)), c, true)
		mlp()
		h = l.Add(h, x)
		hidden = append(hidden, h)
		done()
	}
	enc()
	last := l.LayerNorm("final_layer_norm", h, cfg.LayerNormEps)
	eos := l.ArgMax(ids, -1, true) // [B,1]
	pooled := l.GatherND(last, eos, 1)
	return CLIPTextOutputs{LastHiddenState: last, PooledOutput: pooled, HiddenStates: hidden}
}

// NewCLIPTextGraph returns the text encoder with Optimum's names:
// input_ids int32 [batch_size,sequence_length] → last_hidden_state
// [batch_size,sequence_length,C] and pooler_output [batch_size,C] (or
// text_embeds [batch_size,ProjectionDim] with a projection), and
// hidden_states.N when cfg.HiddenStates is set.
func NewCLIPTextGraph(cfg CLIPTextConfig, seed uint64) *Builder {
	b := NewBuilder("text_encoder")
	l := NewLayers(b, seed)
	ids := b.Input("input_ids", Int32, Sym("batch_size"), Sym("sequence_length"))
	out := l.CLIPTextTransformer(cfg, ids)
	b.OutputAs("last_hidden_state", out.LastHiddenState, Sym("batch_size"), Sym("sequence_length"), D(cfg.HiddenSize))
	if cfg.ProjectionDim > 0 {
		emb := l.Linear("text_projection", out.PooledOutput, cfg.ProjectionDim, false)
		b.OutputAs("text_embeds", emb, Sym("batch_size"), D(cfg.ProjectionDim))
	} else {
		b.OutputAs("pooler_output", out.PooledOutput, Sym("batch_size"), D(cfg.HiddenSize))
	}
	if cfg.HiddenStates {
		for i, h := range out.HiddenStates {
			b.OutputAs("hidden_states."+itoa(i), h, Sym("batch_size"), Sym("sequence_length"), D(cfg.HiddenSize))
		}
	}
	return b
}
