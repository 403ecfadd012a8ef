package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

// attributeClasses are the scene attributes the text encoder is
// pretrained to read off a caption, with their class counts (class 0 is
// "not said"): background color, then color, kind, size and grid cell of
// each of the two shapes, then the relation.
var attributeClasses = []int64{9, 9, 6, 3, 10, 9, 6, 3, 10, 5}

// sceneLabels returns the attribute classes of a caption, in the order of
// attributeClasses ("" gives all zeros).
func sceneLabels(caption string) ([]int64, error) {
	labels := make([]int64, len(attributeClasses))
	if caption == "" {
		return labels, nil
	}
	s, err := shapes.ParsePrompt(caption)
	if err != nil {
		return nil, err
	}
	labels[0] = int64(s.Background)
	for i, sh := range s.Shapes {
		labels[1+4*i] = int64(sh.Color)
		labels[2+4*i] = int64(sh.Kind)
		labels[3+4*i] = int64(sh.Size)
		labels[4+4*i] = int64(sh.Position)
	}
	labels[9] = int64(s.Relation)
	return labels, nil
}

// textLoss builds the text encoder's pretraining loss: inputs input_ids
// [B,contextLength] and one label [B] per attribute; the encoder's last
// hidden states are averaged over the tokens (what the UNet's attention
// pooling starts from) and one linear head per attribute classifies them;
// loss the mean of the heads' cross-entropies.
func textLoss(cfg onnxexport.CLIPTextConfig, seed uint64, batch int64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("text")
	l := onnxexport.NewLayers(b, seed)
	ids := b.Input("input_ids", onnxexport.Int64, onnxexport.D(batch), onnxexport.D(contextLength))
	var labels []*onnxexport.Value
	for k := range attributeClasses {
		labels = append(labels, b.Input(fmt.Sprintf("label_%d", k), onnxexport.Int64, onnxexport.D(batch)))
	}
	pooled := b.ReduceMean(l.CLIPTextTransformer(cfg, ids).LastHiddenState, false, 1)
	var loss *onnxexport.Value
	for k, n := range attributeClasses {
		ce := b.CrossEntropyLoss(l.Linear(fmt.Sprintf("attribute_heads.%d", k), pooled, n, true), labels[k])
		if loss == nil {
			loss = ce
		} else {
			loss = b.Add(loss, ce)
		}
	}
	return b, b.Mul(loss, b.ScalarLike(loss, 1/float64(len(attributeClasses))))
}

// captionSet is the text pretraining data: captions of training seeds
// (fresh ones, beyond the pictures') with their labels, and uncondRate of
// empty captions labelled "nothing said".
type captionSet struct {
	ids    [][]int64
	labels [][]int64
	empty  []int64
}

func newCaptionSet(tok tokenizer.Tokenizer, n int) (*captionSet, error) {
	lo, _ := shapes.Train.SeedRange()
	d := &captionSet{empty: encodeIDs(tok, "")}
	for i := range n {
		c := shapes.Caption(lo + uint64(i))
		l, err := sceneLabels(c)
		if err != nil {
			return nil, fmt.Errorf("caption %q: %w", c, err)
		}
		d.ids = append(d.ids, encodeIDs(tok, c))
		d.labels = append(d.labels, l)
	}
	return d, nil
}

func (d *captionSet) Len() int { return len(d.ids) }

func (d *captionSet) Example(i int, rng *rand.Rand, dst []onnxexport.ExampleSlot) error {
	if len(dst) != 1+len(attributeClasses) {
		return fmt.Errorf("captions: unexpected batch layout")
	}
	if rng.Float64() < uncondRate {
		copy(dst[0].I64, d.empty)
		for k := range attributeClasses {
			dst[1+k].I64[0] = 0
		}
		return nil
	}
	copy(dst[0].I64, d.ids[i])
	for k := range attributeClasses {
		dst[1+k].I64[0] = d.labels[i][k]
	}
	return nil
}

// phaseText pretrains the text encoder to name every attribute of a
// caption from its averaged hidden states, so that the denoiser starts
// from text features that already separate colors, shapes, sizes and
// places instead of learning them through the UNet's gradients. It
// returns the text_model.* weights (nil with -text-steps 0).
func phaseText(ctx context.Context, o options, cfg onnxexport.CLIPTextConfig, tok tokenizer.Tokenizer) (map[string]*onnxexport.Tensor, error) {
	if o.textSteps <= 0 {
		return nil, nil
	}
	data, err := newCaptionSet(tok, 4*o.pictures)
	if err != nil {
		return nil, err
	}
	b, loss := textLoss(cfg, o.seed, 64)
	g, err := onnxexport.NewTrainGraph(b, loss, onnxexport.AdamWConfig{MaxGradNorm: 1, EMADecay: 0.99})
	if err != nil {
		return nil, err
	}
	return trainPhase(ctx, o, "text", g, data, o.textSteps, 1e-3, false)
}
