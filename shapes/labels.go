package shapes

// ShapeLabelSize is the length of the vector [ShapeLabels] returns: for the
// first and then the second shape, 5 shape classes, 8 colors and 9 grid
// cells.
const ShapeLabelSize = 2 * shapeLabelStride

const shapeLabelStride = 5 + 8 + 9

// ShapeLabelHeads names the groups of [ShapeLabels], in order, with their
// sizes: each is one softmax head of a classifier that reads a picture's
// shapes (builtin:ddpm's noise-conditional classifier).
var ShapeLabelHeads = []struct {
	Name    string
	Classes int
}{
	{"kind1", 5}, {"color1", 8}, {"cell1", 9},
	{"kind2", 5}, {"color2", 8}, {"cell2", 9},
}

// ShapeLabels returns the one-hot labels of the shape class, color and grid
// cell of the first two shapes of s (ShapeLabelSize floats). An attribute s
// leaves unsaid, or a second shape s does not have, is all zeros: a
// classifier's Σ_k y_k log p_k then adds nothing for it. A drawn scene
// ([Sample.Scene]) sets every attribute; a prompt's ([ParsePrompt]) only
// those it says.
func ShapeLabels(s Scene) []float32 {
	dst := make([]float32, ShapeLabelSize)
	for i, sh := range s.Shapes {
		if i > 1 {
			break
		}
		off := i * shapeLabelStride
		if sh.Kind.valid() {
			dst[off+int(sh.Kind)-1] = 1
		}
		if sh.Color.valid() {
			dst[off+5+int(sh.Color)-1] = 1
		}
		if sh.Position > PosAny && sh.Position <= BottomRight {
			dst[off+13+int(sh.Position)-1] = 1
		}
	}
	return dst
}
