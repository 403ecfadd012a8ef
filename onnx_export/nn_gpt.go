package onnxexport

import (
	"fmt"
	"math"
	"strconv"
)

// A decoder-only transformer with GPT-2's blocks (Radford et al., 2019):
// token and learned position embeddings, pre-LayerNorm blocks of causal
// self-attention and a 4x GELU MLP, a final LayerNorm and a linear head.
// One forward pass serves training (the whole sequence, no cache) and
// generation (a key/value cache in onnxruntime-genai's names), so the
// trained weights load into both graphs by name.

// GPTConfig sizes a GPT.
type GPTConfig struct {
	Layers       int
	Width, Heads int64
	// VocabSize is the number of input ids, MaxPositions the longest
	// sequence, OutputSize the number of logits per position.
	VocabSize, MaxPositions, OutputSize int64
}

// Validate reports sizes that do not fit together.
func (c GPTConfig) Validate() error {
	if c.Layers < 1 || c.Width < 1 || c.Heads < 1 || c.Width%c.Heads != 0 || c.VocabSize < 1 || c.MaxPositions < 1 || c.OutputSize < 1 {
		return fmt.Errorf("onnxexport: gpt config %+v: %w: want at least 1 layer, width a multiple of heads, positive sizes", c, ErrArgument)
	}
	return nil
}

// HeadDim is the width of one attention head.
func (c GPTConfig) HeadDim() int64 { return c.Width / c.Heads }

// GPTMaskValue is the additive attention mask of a position that may not
// be seen: large enough that its softmax weight is 0 in float32, small
// enough that sums of it stay finite.
const GPTMaskValue = -1e9

// GPTAttention is what a GPT forward pass attends with: Mask, an additive
// mask broadcastable to [B, heads, S, T]; PastKey and PastValue, each
// layer's cached keys and values [B, heads, P, headDim] (nil without a
// cache). GPT fills PresentKey and PresentValue with the keys and values
// of the past and the new positions, [B, heads, P+S, headDim].
type GPTAttention struct {
	Mask                     *Value
	PastKey, PastValue       []*Value
	PresentKey, PresentValue []*Value
}

// GPT returns the logits [B, S, OutputSize] of ids [B, S] at positions
// (int64, broadcastable to [B, S]). Parameter names follow GPT-2's
// state_dict (wte, wpe, h.N.ln_1, h.N.attn.c_attn, ..., ln_f) with a
// separate lm_head.
func (l *Layers) GPT(cfg GPTConfig, ids, positions *Value, att *GPTAttention) *Value {
	if err := cfg.Validate(); err != nil {
		l.Fail("GPT", err)
		return l.placeholder(l.DType)
	}
	if att == nil || att.Mask == nil || (att.PastKey != nil && (len(att.PastKey) != cfg.Layers || len(att.PastValue) != cfg.Layers)) {
		l.failf("GPT", ErrArgument, "want a mask and, with a cache, %d past keys and values", cfg.Layers)
		return l.placeholder(l.DType)
	}
	c, h, d := cfg.Width, cfg.Heads, cfg.HeadDim()
	x := l.Add(l.Embedding("wte", ids, cfg.VocabSize, c, 0.02), l.Embedding("wpe", positions, cfg.MaxPositions, c, 0.01))
	scale := 1 / math.Sqrt(float64(d))
	heads := func(v *Value) *Value { return l.Transpose(l.Reshape(v, 0, 0, h, d), 0, 2, 1, 3) }
	att.PresentKey, att.PresentValue = nil, nil
	for i := range cfg.Layers {
		done := l.Scope("h." + strconv.Itoa(i))
		qkv := l.Split(l.Linear("attn.c_attn", l.LayerNorm("ln_1", x, 1e-5), 3*c, true), -1, c, c, c)
		q, k, v := heads(qkv[0]), heads(qkv[1]), heads(qkv[2])
		if att.PastKey != nil {
			k = l.Concat(2, att.PastKey[i], k)
			v = l.Concat(2, att.PastValue[i], v)
		}
		att.PresentKey = append(att.PresentKey, k)
		att.PresentValue = append(att.PresentValue, v)
		scores := l.Add(l.MatMul(l.Mul(q, l.ScalarLike(q, scale)), l.Transpose(k, 0, 1, 3, 2)), att.Mask)
		y := l.Reshape(l.Transpose(l.MatMul(l.Softmax(scores, -1), v), 0, 2, 1, 3), 0, 0, c)
		x = l.Add(x, l.Linear("attn.c_proj", y, c, true))
		m := l.GELU(l.Linear("mlp.c_fc", l.LayerNorm("ln_2", x, 1e-5), 4*c, true))
		x = l.Add(x, l.Linear("mlp.c_proj", m, c, true))
		done()
	}
	return l.Linear("lm_head", l.LayerNorm("ln_f", x, 1e-5), cfg.OutputSize, true)
}

// CausalMask returns the additive causal mask of n positions: row i sees
// columns 0..i, the others hold GPTMaskValue.
func CausalMask(n int64) *Tensor {
	m := make([]float32, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			m[i*n+j] = GPTMaskValue
		}
	}
	return NewFloat32([]int64{n, n}, m)
}

// NewGPTCachedGraph returns the GPT with a key/value cache in
// onnxruntime-genai's names: input_ids, attention_mask (1 keeps a
// position, 0 hides it) [batch, total_sequence_length], position_ids and
// past_key_values.N.key/.value [batch, heads, past_sequence_length,
// headDim] → logits [batch, sequence_length, OutputSize] and
// present.N.key/.value with the new positions appended. New positions see
// the past and, causally, each other. The past may be empty (length 0),
// which makes the same graph the model without a cache. No Loop or If
// nodes: the sampling loop is the host's.
func NewGPTCachedGraph(cfg GPTConfig) *Builder {
	b := NewBuilder("transformer")
	l := NewLayers(b, 0)
	if err := cfg.Validate(); err != nil {
		b.Fail("NewGPTCachedGraph", err)
		return b
	}
	batch, seq, past, total := Sym("batch_size"), Sym("sequence_length"), Sym("past_sequence_length"), Sym("total_sequence_length")
	ids := b.Input("input_ids", Int64, batch, seq)
	am := b.Input("attention_mask", Int64, batch, total)
	pos := b.Input("position_ids", Int64, batch, seq)
	att := &GPTAttention{}
	h, d := D(cfg.Heads), D(cfg.HeadDim())
	for i := range cfg.Layers {
		att.PastKey = append(att.PastKey, b.Input(fmt.Sprintf("past_key_values.%d.key", i), Float32, batch, h, past, d))
		att.PastValue = append(att.PastValue, b.Input(fmt.Sprintf("past_key_values.%d.value", i), Float32, batch, h, past, d))
	}
	// Rows past..past+S-1 and columns 0..past+S-1 of the causal mask, plus
	// GPTMaskValue where attention_mask is 0.
	pastLen, totalLen := b.DimOf(att.PastKey[0], 2), b.DimOf(am, 1)
	causal := b.SliceTo(b.Const(CausalMask(cfg.MaxPositions)), b.Concat(0, pastLen, b.ConstInts(0)), b.Concat(0, totalLen, totalLen), 0, 1)
	hidden := b.Mul(b.Sub(b.ScalarLike(causal, 1), b.Cast(am, Float32)), b.ScalarLike(causal, GPTMaskValue))
	att.Mask = b.Add(causal, b.Unsqueeze(hidden, 1, 2))
	logits := l.GPT(cfg, ids, pos, att)
	b.OutputAs("logits", logits, batch, seq, D(cfg.OutputSize))
	for i := range cfg.Layers {
		b.OutputAs(fmt.Sprintf("present.%d.key", i), att.PresentKey[i], batch, h, total, d)
		b.OutputAs(fmt.Sprintf("present.%d.value", i), att.PresentValue[i], batch, h, total, d)
	}
	return b
}

// NewGPTGraph returns the GPT without a cache on sequences of exactly
// seqLen ids: input_ids [batch, seqLen] → logits [batch, seqLen,
// OutputSize], positions 0..seqLen-1.
func NewGPTGraph(cfg GPTConfig, seqLen int64) *Builder {
	b := NewBuilder("transformer")
	l := NewLayers(b, 0)
	if seqLen < 1 || seqLen > cfg.MaxPositions {
		b.failf("NewGPTGraph", ErrArgument, "sequence length %d outside [1, %d]", seqLen, cfg.MaxPositions)
		return b
	}
	ids := b.Input("input_ids", Int64, Sym("batch_size"), D(seqLen))
	pos := make([]int64, seqLen)
	for i := range pos {
		pos[i] = int64(i)
	}
	logits := l.GPT(cfg, ids, b.ConstInts(pos...), &GPTAttention{Mask: b.Const(CausalMask(seqLen))})
	b.OutputAs("logits", logits, Sym("batch_size"), D(seqLen), D(cfg.OutputSize))
	return b
}
