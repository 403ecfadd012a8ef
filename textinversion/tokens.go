package textinversion

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
	"github.com/imagegen/imagegen/onnx_export/onnxpb"
	"github.com/imagegen/imagegen/tokenizer"
)

// TokenTable finds the token embedding table of a CLIP text encoder graph:
// the Gather PyTorch's exporter names after token_embedding, reading an
// initializer of [vocab, dim] (through Identity nodes).
func TokenTable(m *onnxpb.ModelProto) (node *onnxpb.NodeProto, table *onnxpb.TensorProto, err error) {
	g := m.GetGraph()
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Gather" || len(n.Input) != 2 {
			continue
		}
		name := n.Input[0]
		for range 8 {
			if _, ok := inits[name]; ok {
				break
			}
			p := producer[name]
			if p == nil || p.GetOpType() != "Identity" {
				break
			}
			name = p.Input[0]
		}
		t := inits[name]
		if t == nil || len(t.Dims) != 2 {
			continue
		}
		if strings.Contains(n.GetName(), "token_embedding") || strings.HasSuffix(name, "token_embedding.weight") {
			return n, t, nil
		}
	}
	return nil, nil, fmt.Errorf("textinversion: the text encoder has no token_embedding Gather over a [vocab, dim] weight")
}

// AddTokens appends rows ([n, dim] row-major, dim the table's width) to the
// token embedding table of the text encoder graph m (external data read
// from dir) as a new initializer the Gather now reads, and returns the id
// of the first new row.
func AddTokens(m *onnxpb.ModelProto, dir string, rows []float32) (first int, err error) {
	node, table, err := TokenTable(m)
	if err != nil {
		return 0, err
	}
	vocab, dim := int(table.Dims[0]), int(table.Dims[1])
	if len(rows)%dim != 0 {
		return 0, fmt.Errorf("textinversion: %d values are not rows of the table's width %d", len(rows), dim)
	}
	t, err := onnxexport.DecodeTensor(table, dir)
	if err != nil {
		return 0, err
	}
	data, err := t.AsFloat32()
	if err != nil {
		return 0, err
	}
	all := append(append(make([]float32, 0, len(data)+len(rows)), data...), rows...)
	shape := []int64{int64(vocab + len(rows)/dim), int64(dim)}
	grown := onnxexport.NewFloat32(shape, all)
	if t.DType == onnxexport.Float16 {
		h := make([]uint16, len(all))
		for i, v := range all {
			h[i] = onnxexport.Float32ToFloat16(v)
		}
		grown = &onnxexport.Tensor{DType: onnxexport.Float16, Shape: shape, Float16: h}
	}
	name := "textinversion/" + table.GetName()
	m.Graph.Initializer = append(m.Graph.Initializer, onnxexport.EncodeTensor(name, grown))
	node.Input[0] = name
	return vocab, nil
}

// Tokenizer makes each embedding's name in a prompt (as a whole word)
// stand for its token ids; all else is the wrapped tokenizer's.
type Tokenizer struct {
	tokenizer.Tokenizer
	ids  map[string][]int
	name *regexp.Regexp
}

// NewTokenizer wraps base with the embeddings' ids (name → ids).
func NewTokenizer(base tokenizer.Tokenizer, ids map[string][]int) *Tokenizer {
	names := make([]string, 0, len(ids))
	for n := range ids {
		names = append(names, regexp.QuoteMeta(n))
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	return &Tokenizer{Tokenizer: base, ids: ids, name: regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)}
}

// Encode returns text's ids with the start and end tokens, embedding names
// replaced by their ids.
func (t *Tokenizer) Encode(text string) []int {
	matches := t.name.FindAllStringIndex(text, -1)
	if len(matches) == 0 {
		return t.Tokenizer.Encode(text)
	}
	empty := t.Tokenizer.Encode("")
	inner := func(s string) []int {
		ids := t.Tokenizer.Encode(s)
		return ids[1 : len(ids)-1]
	}
	out := []int{empty[0]}
	start := 0
	for _, m := range matches {
		out = append(out, inner(text[start:m[0]])...)
		out = append(out, t.ids[text[m[0]:m[1]]]...)
		start = m[1]
	}
	out = append(out, inner(text[start:])...)
	return append(out, empty[1])
}

// EncodePadded is Encode cut to maxLength (the end token kept last) and
// padded with the pad id, as the wrapped tokenizer's EncodePadded does.
func (t *Tokenizer) EncodePadded(text string, maxLength int) []int {
	if !t.name.MatchString(text) {
		return t.Tokenizer.EncodePadded(text, maxLength)
	}
	if maxLength <= 0 {
		maxLength = t.ModelMaxLength()
	}
	ids := t.Encode(text)
	if len(ids) > maxLength {
		end := ids[len(ids)-1]
		ids = append(ids[:maxLength-1], end)
	}
	for len(ids) < maxLength {
		ids = append(ids, t.PadID())
	}
	return ids
}
