package shapes

import "fmt"

// AttributeClasses are the scene attributes a prompt says, in the order
// [Scene.Attributes] lists them, with their class counts; class 0 of each is
// "not said". They are: the background color, then the color, kind, size and
// grid cell of the first and the second shape, then the relation.
var AttributeClasses = []int{9, 9, 6, 3, 10, 9, 6, 3, 10, 5}

// ConditionSize is the length of the vector [Condition] returns: the sum of
// AttributeClasses.
const ConditionSize = 70

// Attributes returns the class of each attribute of s, in the order of
// [AttributeClasses] (0 where s leaves the attribute unsaid).
func (s Scene) Attributes() []int {
	a := make([]int, len(AttributeClasses))
	a[0] = int(s.Background)
	for i, sh := range s.Shapes {
		if i > 1 {
			break
		}
		a[1+4*i] = int(sh.Color)
		a[2+4*i] = int(sh.Kind)
		a[3+4*i] = int(sh.Size)
		a[4+4*i] = int(sh.Position)
	}
	a[9] = int(s.Relation)
	return a
}

// Condition returns the one-hot encoding of the attributes prompt says
// (ConditionSize floats, one 1 per attribute): how imagegen's built-in
// models other than the default one read a prompt, instead of through a
// text encoder. "" is the unconditional prompt (every attribute "not
// said"). A prompt outside the dataset's phrasings is an error from
// [ParsePrompt].
func Condition(prompt string) ([]float32, error) {
	v := make([]float32, ConditionSize)
	var s Scene
	if prompt != "" {
		var err error
		if s, err = ParsePrompt(prompt); err != nil {
			return nil, err
		}
	}
	off := 0
	for k, c := range s.Attributes() {
		if c < 0 || c >= AttributeClasses[k] {
			return nil, fmt.Errorf("%w: attribute %d has class %d of %d", ErrInvalidScene, k, c, AttributeClasses[k])
		}
		v[off+c] = 1
		off += AttributeClasses[k]
	}
	return v, nil
}
