package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/tokenizer"
)

// textEncoder pairs a tokenizer with its ONNX text encoder.
type textEncoder struct {
	name string // component folder, e.g. "text_encoder_2"
	tok  tokenizer.Tokenizer
	sess *ort.Session
	// hidden lists the hidden_states.N outputs in layer order, when the
	// export has them (SDXL, SD3 encoders).
	hidden []string
	// finalLN is loaded on the first clip-skip encoding of a last-layer
	// encoder (finalLayerNorm).
	finalLN *layerNorm
}

// embedding is one encoded prompt.
type embedding struct {
	seq    int       // sequence length
	dim    int       // hidden size
	hidden []float32 // [seq, dim]: last or penultimate hidden state
	pooled []float32 // pooled / projected output, when asked for
}

func newTextEncoder(name string, tok tokenizer.Tokenizer, sess *ort.Session) *textEncoder {
	te := &textEncoder{name: name, tok: tok, sess: sess}
	type layer struct {
		n    int
		name string
	}
	var layers []layer
	for _, o := range sess.Outputs() {
		if rest, ok := strings.CutPrefix(o.Name, "hidden_states."); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				layers = append(layers, layer{n, o.Name})
			}
		}
	}
	sort.Slice(layers, func(i, j int) bool { return layers[i].n < layers[j].n })
	for _, l := range layers {
		te.hidden = append(te.hidden, l.name)
	}
	return te
}

// hiddenKind says which hidden state a pipeline takes from an encoder:
// a layer, and how many more layers to skip back from it (clip skip).
type hiddenKind struct {
	layer hiddenLayer
	skip  int
}

type hiddenLayer int

const (
	layerLast        hiddenLayer = iota // last_hidden_state
	layerPenultimate                    // hidden_states[-2]
	layerNone                           // pooled output only
)

var (
	lastHidden        = hiddenKind{layer: layerLast}        // SD 1.x/2.x, T5
	penultimateHidden = hiddenKind{layer: layerPenultimate} // SDXL, SD3 CLIP
	noHidden          = hiddenKind{layer: layerNone}        // Flux CLIP
)

// skipped returns hk moved n more layers back from the end.
func (hk hiddenKind) skipped(n int) hiddenKind {
	hk.skip += n
	return hk
}

// pooledKind says which pooled output a pipeline takes.
type pooledKind int

const (
	noPooled     pooledKind = iota
	pooledOutput            // pooler_output (Flux CLIP)
	textEmbeds              // text_embeds, the projected pooled output (SDXL encoder 2, SD3)
)

// encode tokenizes text padded to maxLen and runs the encoder.
func (te *textEncoder) encode(ctx context.Context, text string, maxLen int, hk hiddenKind, pk pooledKind) (*embedding, error) {
	return te.run(ctx, te.tok.EncodePadded(text, maxLen), hk, pk)
}

// run encodes one row of token ids.
func (te *textEncoder) run(ctx context.Context, ids []int, hk hiddenKind, pk pooledKind) (*embedding, error) {
	ids64 := make([]int64, len(ids))
	for i, id := range ids {
		ids64[i] = int64(id)
	}
	in := map[string]ort.Tensor{"input_ids": {Shape: []int64{1, int64(len(ids))}, I64: ids64}}
	if _, ok := te.sess.Input("input_ids"); !ok {
		return nil, fmt.Errorf("pipeline: %s: the model has no input_ids input (it declares %v)", te.sess.Name(), te.sess.Inputs())
	}
	hiddenName := ""
	switch {
	case hk.layer == layerLast && hk.skip == 0:
		hiddenName = "last_hidden_state"
	case hk.layer != layerNone:
		back := 1 + hk.skip // hidden_states[-back]
		if hk.layer == layerPenultimate {
			back++
		}
		if len(te.hidden) < back+1 {
			return nil, fmt.Errorf("pipeline: %s: needs hidden_states.N outputs %d layers from the end, but the export has %d (re-export with output_hidden_states)", te.sess.Name(), back, len(te.hidden))
		}
		hiddenName = te.hidden[len(te.hidden)-back]
	}
	out := map[string]*ort.Tensor{}
	if hiddenName != "" {
		if _, ok := te.sess.Output(hiddenName); !ok {
			return nil, fmt.Errorf("pipeline: %s: missing output %s", te.sess.Name(), hiddenName)
		}
		out[hiddenName] = &ort.Tensor{}
	}
	pooledName := ""
	switch pk {
	case pooledOutput:
		pooledName = "pooler_output"
	case textEmbeds:
		pooledName = "text_embeds"
	}
	if pooledName != "" {
		if _, ok := te.sess.Output(pooledName); !ok {
			return nil, fmt.Errorf("pipeline: %s: missing output %s (declared: %v)", te.sess.Name(), pooledName, te.sess.Outputs())
		}
		out[pooledName] = &ort.Tensor{}
	}
	if err := te.sess.Run(ctx, in, out); err != nil {
		return nil, err
	}
	e := &embedding{}
	if hiddenName != "" {
		h := out[hiddenName]
		if len(h.Shape) != 3 {
			return nil, fmt.Errorf("pipeline: %s: %s has shape %v, want [1, seq, dim]", te.sess.Name(), hiddenName, h.Shape)
		}
		e.seq, e.dim, e.hidden = int(h.Shape[1]), int(h.Shape[2]), h.F32
		if hk.layer == layerLast && hk.skip > 0 {
			// As diffusers' and AUTOMATIC1111's clip skip: an earlier
			// layer's state through the final layer norm.
			if err := te.finalLayerNorm(e.hidden, e.dim); err != nil {
				return nil, err
			}
		}
	}
	if pooledName != "" {
		e.pooled = out[pooledName].F32
	}
	return e, nil
}
