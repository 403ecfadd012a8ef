package pipeline

import (
	"context"
	"fmt"

	"github.com/imagegen/imagegen/ort"
)

// kvDecoder runs a decoder-only transformer exported with a key/value
// cache in onnxruntime-genai's names: inputs input_ids, attention_mask,
// position_ids and past_key_values.N.key/.value [batch, heads, past,
// head_dim]; outputs logits [batch, sequence, vocab] and
// present.N.key/.value [batch, heads, past+sequence, head_dim].
//
// The cache stays in Go memory that ONNX Runtime reads and writes in
// place: the present tensors are preallocated outputs in one kvCache, and
// that cache is the next step's past, fed without a copy (two caches
// alternate, since a step reads one while writing the other). On the CPU
// this is what an IoBinding would give; onnxruntime_go's IoBinding cannot
// leave outputs in ORT-owned memory without copying them out, so it would
// add copies rather than remove them.
type kvDecoder struct {
	sess                   *ort.Session
	layers, heads, headDim int
	vocab                  int

	pastKey, pastValue, presentKey, presentValue []string
	in                                           map[string]ort.Tensor
	out                                          map[string]*ort.Tensor
	logits                                       ort.Tensor
	positions, mask                              []int64
}

// kvCache holds every layer's keys and values for a batch at one length,
// each [batch, heads, length, headDim] row major.
type kvCache struct {
	batch, length int
	keys, values  [][]float32
}

func newKVDecoder(sess *ort.Session, layers, heads, headDim, vocab int) *kvDecoder {
	d := &kvDecoder{sess: sess, layers: layers, heads: heads, headDim: headDim, vocab: vocab,
		in: map[string]ort.Tensor{}, out: map[string]*ort.Tensor{}}
	for i := range layers {
		d.pastKey = append(d.pastKey, fmt.Sprintf("past_key_values.%d.key", i))
		d.pastValue = append(d.pastValue, fmt.Sprintf("past_key_values.%d.value", i))
		d.presentKey = append(d.presentKey, fmt.Sprintf("present.%d.key", i))
		d.presentValue = append(d.presentValue, fmt.Sprintf("present.%d.value", i))
	}
	return d
}

// kvIOSpecs are the declared inputs and outputs a kvDecoder needs.
func kvIOSpecs(layers, heads, headDim, vocab int) (in, out []ioSpec) {
	h, d := int64(heads), int64(headDim)
	in = []ioSpec{{"input_ids", ort.Int64, []int64{-1, -1}}, {"attention_mask", ort.Int64, []int64{-1, -1}},
		{"position_ids", ort.Int64, []int64{-1, -1}}}
	out = []ioSpec{{"logits", ort.Float32, []int64{-1, -1, int64(vocab)}}}
	for i := range layers {
		for _, kv := range []string{"key", "value"} {
			in = append(in, ioSpec{fmt.Sprintf("past_key_values.%d.%s", i, kv), ort.Float32, []int64{-1, h, -1, d}})
			out = append(out, ioSpec{fmt.Sprintf("present.%d.%s", i, kv), ort.Float32, []int64{-1, h, -1, d}})
		}
	}
	return in, out
}

// newCache returns an empty cache (length 0) for batch rows.
func (d *kvDecoder) newCache(batch int) *kvCache {
	return &kvCache{batch: batch, keys: make([][]float32, d.layers), values: make([][]float32, d.layers)}
}

// checkCache reports a cache that does not fit the model.
func (d *kvDecoder) checkCache(c *kvCache, batch int) error {
	if c == nil {
		return fmt.Errorf("pipeline: kv cache: none given")
	}
	if c.batch != batch || c.length < 0 || len(c.keys) != d.layers || len(c.values) != d.layers {
		return fmt.Errorf("pipeline: kv cache: batch %d, length %d, %d key and %d value layers; the model wants batch %d and %d layers",
			c.batch, c.length, len(c.keys), len(c.values), batch, d.layers)
	}
	want := batch * d.heads * c.length * d.headDim
	for i := range d.layers {
		if len(c.keys[i]) != want || len(c.values[i]) != want {
			return fmt.Errorf("pipeline: kv cache: layer %d holds %d keys and %d values, want [%d, %d, %d, %d] = %d each",
				i, len(c.keys[i]), len(c.values[i]), batch, d.heads, c.length, d.headDim, want)
		}
	}
	return nil
}

// step runs seq new tokens per row (ids [batch, seq]) after past, writes
// the keys and values of past plus the new tokens into next (resized in
// place; it must not be past) and returns the logits [batch, seq, vocab],
// valid until the next step. A nil past or one of length 0 runs the
// model without a cache.
func (d *kvDecoder) step(ctx context.Context, ids []int64, batch, seq int, past, next *kvCache) ([]float32, error) {
	if batch < 1 || seq < 1 || len(ids) != batch*seq {
		return nil, fmt.Errorf("pipeline: kv step: %d ids for batch %d of %d tokens", len(ids), batch, seq)
	}
	if err := d.checkCache(past, batch); err != nil {
		return nil, err
	}
	if next == nil || next == past {
		return nil, fmt.Errorf("pipeline: kv step: the next cache must be a second cache")
	}
	p := past.length
	total := p + seq
	d.positions = resize(d.positions, batch*seq)
	for r := range batch {
		for j := range seq {
			d.positions[r*seq+j] = int64(p + j)
		}
	}
	d.mask = resize(d.mask, batch*total)
	for i := range d.mask {
		d.mask[i] = 1
	}
	d.in["input_ids"] = ort.Tensor{Shape: []int64{int64(batch), int64(seq)}, I64: ids}
	d.in["attention_mask"] = ort.Tensor{Shape: []int64{int64(batch), int64(total)}, I64: d.mask}
	d.in["position_ids"] = ort.Tensor{Shape: []int64{int64(batch), int64(seq)}, I64: d.positions}
	pastShape := []int64{int64(batch), int64(d.heads), int64(p), int64(d.headDim)}
	nextShape := []int64{int64(batch), int64(d.heads), int64(total), int64(d.headDim)}
	n := batch * d.heads * total * d.headDim
	next.batch, next.length = batch, total
	next.keys = resizeLayers(next.keys, d.layers)
	next.values = resizeLayers(next.values, d.layers)
	for i := range d.layers {
		d.in[d.pastKey[i]] = ort.Tensor{Shape: pastShape, F32: nonNil(past.keys[i])}
		d.in[d.pastValue[i]] = ort.Tensor{Shape: pastShape, F32: nonNil(past.values[i])}
		next.keys[i] = resize(next.keys[i], n)
		next.values[i] = resize(next.values[i], n)
		d.out[d.presentKey[i]] = &ort.Tensor{Shape: nextShape, F32: next.keys[i]}
		d.out[d.presentValue[i]] = &ort.Tensor{Shape: nextShape, F32: next.values[i]}
	}
	d.logits.Shape = []int64{int64(batch), int64(seq), int64(d.vocab)}
	d.logits.F32 = resize(d.logits.F32, batch*seq*d.vocab)
	d.out["logits"] = &d.logits
	if err := d.sess.Run(ctx, d.in, d.out); err != nil {
		return nil, fmt.Errorf("pipeline: transformer: %w", err)
	}
	return d.logits.F32, nil
}

// resize returns s with length n, reusing its array when large enough.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/2)
}

func resizeLayers(s [][]float32, n int) [][]float32 {
	if len(s) == n {
		return s
	}
	return make([][]float32, n)
}

// nonNil returns s, or an empty non-nil slice, so that an empty past is
// taken as float32 data rather than converted.
func nonNil(s []float32) []float32 {
	if s == nil {
		return []float32{}
	}
	return s
}
