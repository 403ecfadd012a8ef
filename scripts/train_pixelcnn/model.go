package main

import (
	"math"
	"math/rand/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/shapes"
)

// imageSize is the side of the pictures; levels the values a color
// channel takes; subpixels is D, the dimension count bits/dim divide by.
const (
	imageSize = 32
	levels    = 256
	subpixels = 3 * imageSize * imageSize
)

// config is the network's shape.
type config struct {
	// Channels is C, the width of both stacks.
	Channels int64
	// Layers is the number of gated layers (the first with mask A).
	Layers int
	// Head is the hidden width of each color channel's output MLP.
	Head int64
	// CondMap is the channel count of the condition's spatial map S: a
	// linear map from c to 8x8, upsampled to 32x32, plus a learned
	// position map, so that the network knows where the prompt puts a
	// shape (a per-layer bias alone has no position).
	CondMap int64
}

// defaultConfig is the shipped architecture.
func defaultConfig() config {
	return config{Channels: 32, Layers: 8, Head: 32, CondMap: 16}
}

// window is the number of rows the row-sampling graph ("vstack") reads:
// the link of layer k at row i depends on input rows i−k−1 … i−1, and the
// zero padding at a window's top edge (where the picture does not end)
// taints one more row per layer, so a window of Layers+2 rows ending at
// row i gives exact links for row i.
func (c config) window() int64 { return int64(c.Layers) + 2 }

// net builds the gated PixelCNN's pieces into one builder; every graph
// (training loss, full forward, vertical-stack rows, one-row horizontal
// stack) makes the same parameter names, so LoadParams moves weights
// between them.
type net struct {
	b   *onnxexport.Builder
	l   *onnxexport.Layers
	cfg config
	rng *rand.Rand
}

func newNet(b *onnxexport.Builder, cfg config, seed uint64) *net {
	return &net{b: b, l: onnxexport.NewLayers(b, seed), cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// convParams makes a conv weight [out,in,kh,kw] and bias [out] with
// torch's default uniform initialization (bound 1/sqrt(fan-in)).
func (n *net) convParams(name string, out, in, kh, kw int64, bias bool) (w, bv *onnxexport.Value) {
	defer n.b.Scope(name)()
	bound := 1 / math.Sqrt(float64(in*kh*kw))
	uniform := func(size int64) []float32 {
		v := make([]float32, size)
		for i := range v {
			v[i] = float32((n.rng.Float64()*2 - 1) * bound)
		}
		return v
	}
	w = n.b.Param("weight", onnxexport.NewFloat32([]int64{out, in, kh, kw}, uniform(out*in*kh*kw)))
	if bias {
		bv = n.b.Param("bias", onnxexport.NewFloat32([]int64{out}, uniform(out)))
	}
	return w, bv
}

// conv is a convolution with a kernel [kh,kw] and explicit ONNX pads
// (top, left, bottom, right).
func (n *net) conv(name string, x *onnxexport.Value, out, kh, kw int64, pads []int64, bias bool) *onnxexport.Value {
	w, bv := n.convParams(name, out, n.channels(x), kh, kw, bias)
	return n.b.Conv(x, w, bv, onnxexport.ConvOptions{Pads: pads})
}

func (n *net) channels(x *onnxexport.Value) int64 { return x.Shape()[1].Size }

// shiftDown moves a map [B,C,H,W] of static height H one row down (row 0
// becomes zero) by a 1x1 conv padded above and cropped below: what the
// vertical stack hands to the horizontal one, so that row i of the
// horizontal stack sees only rows above i.
func (n *net) shiftDownConv(name string, x *onnxexport.Value, out int64) *onnxexport.Value {
	h := x.Shape()[2].Size
	y := n.conv(name, x, out, 1, 1, []int64{1, 0, 0, 0}, false)
	return n.b.Slice(y, []int64{0}, []int64{h}, []int64{2}, nil)
}

// gate is tanh(a)·σ(b) of the two halves of x along the channels.
func (n *net) gate(x *onnxexport.Value) *onnxexport.Value {
	c := n.channels(x) / 2
	p := n.b.Split(x, 1, c, c)
	return n.b.Mul(n.b.Tanh(p[0]), n.b.Sigmoid(p[1]))
}

// condMap is S [B,CondMap,32,32]: SiLU(upsample(linear(c) as 8x8) +
// position map).
func (n *net) condMap(c *onnxexport.Value) *onnxexport.Value {
	defer n.b.Scope("cond_map")()
	cm := n.cfg.CondMap
	m := n.b.Reshape(n.l.Linear("linear", c, cm*8*8, true), -1, cm, 8, 8)
	pos := n.b.Param("position", onnxexport.NewFloat32([]int64{1, cm, imageSize, imageSize}, make([]float32, cm*imageSize*imageSize)))
	return n.l.SiLU(n.b.Add(n.b.UpsampleNearest(m, 4), pos))
}

// condTerm is the condition's share of layer k's pre-activations of one
// stack: a per-channel bias from c (the conditional gated PixelCNN's
// V·h) plus a 1x1 conv of the rows of S the map covers.
func (n *net) condTerm(name string, c, s *onnxexport.Value) *onnxexport.Value {
	defer n.b.Scope(name)()
	out := 2 * n.cfg.Channels
	bias := n.b.Unsqueeze(n.l.Linear("linear", c, out, false), 2, 3)
	return n.b.Add(n.conv("map", s, out, 1, 1, nil, false), bias)
}

// vLayer is layer k of the vertical stack: a 2x3 kernel over rows i−1
// and i (so row i of its output sees input rows ≤ i), the condition, and
// the gate. It returns the gated output and the pre-activation, which
// the link to the horizontal stack reads one row lower.
func (n *net) vLayer(k int, v, c, s *onnxexport.Value) (out, pre *onnxexport.Value) {
	defer n.b.Scope(layerName(k))()
	pre = n.conv("v", v, 2*n.cfg.Channels, 2, 3, []int64{1, 1, 0, 1}, true)
	pre = n.b.Add(pre, n.condTerm("v_cond", c, s))
	return n.gate(pre), pre
}

// link is what layer k's horizontal stack adds from outside its row: the
// vertical pre-activation one row up (a 1x1 conv) and the condition.
func (n *net) link(k int, vPre, c, s *onnxexport.Value) *onnxexport.Value {
	defer n.b.Scope(layerName(k))()
	return n.b.Add(n.shiftDownConv("v_to_h", vPre, 2*n.cfg.Channels), n.condTerm("h_cond", c, s))
}

// hLayer is layer k of the horizontal stack: a 1x2 kernel over columns
// j−1 and j (layer 0, mask A: j−2 and j−1, cropped, so that a pixel
// never sees itself), plus the link, the gate, a 1x1 conv and (after
// layer 0) the residual.
func (n *net) hLayer(k int, h, link *onnxexport.Value) *onnxexport.Value {
	defer n.b.Scope(layerName(k))()
	c := n.cfg.Channels
	var pre *onnxexport.Value
	if k == 0 {
		w := h.Shape()[3].Size
		pre = n.conv("h", h, 2*c, 1, 2, []int64{0, 2, 0, 0}, true)
		pre = n.b.Slice(pre, []int64{0}, []int64{w}, []int64{3}, nil)
	} else {
		pre = n.conv("h", h, 2*c, 1, 2, []int64{0, 1, 0, 0}, true)
	}
	out := n.conv("h_out", n.gate(n.b.Add(pre, link)), c, 1, 1, nil, true)
	if k > 0 {
		out = n.b.Add(out, h)
	}
	return out
}

func layerName(k int) string { return "layer" + string(rune('0'+k/10)) + string(rune('0'+k%10)) }

// vStack runs the vertical stack over x [B,3,H,W] with S's rows s and
// returns every layer's link [B,2C,H,W].
func (n *net) vStack(x, c, s *onnxexport.Value) []*onnxexport.Value {
	links := make([]*onnxexport.Value, n.cfg.Layers)
	v := x
	for k := range n.cfg.Layers {
		var pre *onnxexport.Value
		v, pre = n.vLayer(k, v, c, s)
		links[k] = n.link(k, pre, c, s)
	}
	return links
}

// hStack runs the horizontal stack over x [B,3,H,W] with the links and
// returns its last layer's output [B,C,H,W].
func (n *net) hStack(x *onnxexport.Value, links []*onnxexport.Value) *onnxexport.Value {
	h := x
	for k := range n.cfg.Layers {
		h = n.hLayer(k, h, links[k])
	}
	return h
}

// head maps the horizontal stack's output f [B,C,H,W] and the pixels x
// [B,3,H,W] to logits [B,3,256,H,W]: color channel ch's MLP reads f and
// the current pixel's channels before ch (R → G → B within a pixel), by
// a 1x1 conv of x with a mask that hides channel ch and those after it.
func (n *net) head(f, x *onnxexport.Value) *onnxexport.Value {
	defer n.b.Scope("head")()
	hd := n.cfg.Head
	a := n.conv("features", n.l.SiLU(f), 3*hd, 1, 1, nil, true)
	w, _ := n.convParams("pixel", 3*hd, 3, 1, 1, false)
	mask := make([]float32, 3*hd*3)
	for o := range 3 * hd {
		for in := range int64(3) {
			if in < o/hd {
				mask[o*3+in] = 1
			}
		}
	}
	w = n.b.Mul(w, n.b.ConstFloat32([]int64{3 * hd, 3, 1, 1}, mask))
	a = n.l.SiLU(n.b.Add(a, n.b.Conv(x, w, nil, onnxexport.ConvOptions{})))
	parts := n.b.Split(a, 1, hd, hd, hd)
	sh := f.Shape()
	logits := make([]*onnxexport.Value, 3)
	for ch, p := range parts {
		l := n.conv("logits"+string(rune('0'+ch)), p, levels, 1, 1, nil, true)
		logits[ch] = n.b.Reshape(l, -1, 1, levels, sh[2].Size, sh[3].Size)
	}
	return n.b.Concat(1, logits...)
}

// forward is the whole network on pictures x [B,3,32,32] in [-1, 1]
// and conditions c [B,70]: logits [B,3,256,32,32].
func (n *net) forward(x, c *onnxexport.Value) *onnxexport.Value {
	s := n.condMap(c)
	return n.head(n.hStack(x, n.vStack(x, c, s)), x)
}

// trainLoss builds the training loss on a batch: inputs image
// [B,3,32,32] (the pixels v as v/127.5 − 1), labels [B,3,32,32] (v, int64)
// and condition [B,70]. The loss is −log P(v | c) per subpixel in nats:
// loss/ln 2 is the batch's bits/dim.
//
// With edgeWeight > 0 the graph also reads weights [B,3,32,32] and the
// loss is the weighted mean Σ w·(−log P) / Σ w (see pictures.Example):
// a weighted maximum likelihood that gives more of the gradient to the
// subpixels where a picture changes, the few where the prompt decides
// what comes (a shape's first pixels, its color, its outline) among many
// that repeat their neighbours. The model stays a normalized
// distribution; its bits/dim are measured unweighted.
func trainLoss(cfg config, seed uint64, batch int64, edgeWeight float64) (*onnxexport.Builder, *onnxexport.Value) {
	b := onnxexport.NewBuilder("pixelcnn")
	n := newNet(b, cfg, seed)
	dims := []onnxexport.Dim{onnxexport.D(batch), onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize)}
	x := b.Input(inSample, onnxexport.Float32, dims...)
	labels := b.Input("labels", onnxexport.Int64, dims...)
	c := b.Input(inCondition, onnxexport.Float32, onnxexport.D(batch), onnxexport.D(shapes.ConditionSize))
	logits := b.Reshape(b.Transpose(n.forward(x, c), 0, 1, 3, 4, 2), -1, levels) // [B·3·H·W, 256]
	flat := b.Reshape(labels, -1)
	if edgeWeight <= 0 {
		return b, b.CrossEntropyLoss(logits, flat)
	}
	w := b.Reshape(b.Input("weights", onnxexport.Float32, dims...), -1)
	logp := b.Op("LogSoftmax", []*onnxexport.Value{logits}, []onnxexport.Attr{onnxexport.IntAttr("axis", 1)},
		onnxexport.ValueType{DType: onnxexport.Float32, Shape: logits.Shape()})[0]
	oneHot := b.Op("OneHot", []*onnxexport.Value{flat, b.ConstInts(levels), b.ConstFloat32([]int64{2}, []float32{0, 1})},
		[]onnxexport.Attr{onnxexport.IntAttr("axis", -1)}, onnxexport.ValueType{DType: onnxexport.Float32, Shape: logits.Shape()})[0]
	picked := b.ReduceSum(b.Mul(logp, oneHot), false, 1)
	return b, b.Neg(b.Div(b.ReduceSum(b.Mul(picked, w), false), b.ReduceSum(w, false)))
}

// Names of the exported graphs' inputs and outputs (the contract the
// pipeline reads).
const (
	inSample, inCondition, inRowStart, inRow, inLinks = "sample", "condition", "row_start", "row", "links"
	outLogits, outLinks                               = "logits", "links"
)

// fullGraph is the exported whole network: sample [batch,3,32,32] in
// [-1, 1] and condition [batch,70] → logits [batch,3,256,32,32]. One run
// gives every subpixel's distribution given the pixels before it: the
// exact likelihood of a picture, or one step of naive sampling.
func fullGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("pixelcnn_full")
	n := newNet(b, cfg, 0)
	batch := onnxexport.Sym("batch")
	x := b.Input(inSample, onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(imageSize), onnxexport.D(imageSize))
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(shapes.ConditionSize))
	b.OutputAs(outLogits, n.forward(x, c), batch, onnxexport.D(3), onnxexport.D(levels), onnxexport.D(imageSize), onnxexport.D(imageSize))
	return b
}

// vstackGraph is the exported vertical stack over a window of rows:
// sample [batch,3,window,32] (rows row_start … row_start+window−1 of the
// picture), condition [batch,70] and row_start [1] (int64) → links
// [batch,Layers·2C,window,32]. Row r of the links depends on the window's
// rows above r only; it is exact for every row when row_start is 0 and
// for the window's last row otherwise.
func vstackGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("pixelcnn_vstack")
	n := newNet(b, cfg, 0)
	batch, win := onnxexport.Sym("batch"), cfg.window()
	x := b.Input(inSample, onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(win), onnxexport.D(imageSize))
	c := b.Input(inCondition, onnxexport.Float32, batch, onnxexport.D(shapes.ConditionSize))
	start := b.Input(inRowStart, onnxexport.Int64, onnxexport.D(1))
	s := n.condMap(c)
	s = b.SliceTo(s, start, b.Add(start, b.ConstInts(win)), 2)
	s = b.Reshape(s, -1, cfg.CondMap, win, imageSize)
	links := b.Concat(1, n.vStack(x, c, s)...)
	b.OutputAs(outLinks, links, batch, onnxexport.D(int64(cfg.Layers)*2*cfg.Channels), onnxexport.D(win), onnxexport.D(imageSize))
	return b
}

// hrowGraph is the exported horizontal stack and head on one row: row
// [batch,3,1,32] (the row's pixels; those at and after the one sampled
// are not read, except the current pixel's channels before the one
// sampled) and links [batch,Layers·2C,1,32] (vstack's, for that row) →
// logits [batch,3,256,1,32].
func hrowGraph(cfg config) *onnxexport.Builder {
	b := onnxexport.NewBuilder("pixelcnn_hrow")
	n := newNet(b, cfg, 0)
	batch := onnxexport.Sym("batch")
	two := 2 * cfg.Channels
	x := b.Input(inRow, onnxexport.Float32, batch, onnxexport.D(3), onnxexport.D(1), onnxexport.D(imageSize))
	all := b.Input(inLinks, onnxexport.Float32, batch, onnxexport.D(int64(cfg.Layers)*two), onnxexport.D(1), onnxexport.D(imageSize))
	sizes := make([]int64, cfg.Layers)
	for k := range sizes {
		sizes[k] = two
	}
	links := b.Split(all, 1, sizes...)
	logits := n.head(n.hStack(x, links), x)
	b.OutputAs(outLogits, logits, batch, onnxexport.D(3), onnxexport.D(levels), onnxexport.D(1), onnxexport.D(imageSize))
	return b
}
