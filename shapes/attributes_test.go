package shapes

import "testing"

func TestConditionSize(t *testing.T) {
	sum := 0
	for _, n := range AttributeClasses {
		sum += n
	}
	if sum != ConditionSize {
		t.Fatalf("sum of AttributeClasses = %d, ConditionSize = %d", sum, ConditionSize)
	}
}

func TestCondition(t *testing.T) {
	tests := []struct {
		prompt string
		ones   []int // indices of the ones
	}{
		{"", []int{0, 9, 18, 24, 27, 37, 46, 52, 55, 65}},
		// red=1 circle=1 large=2 top left=6, blue background=3
		{"a large red circle at the top left on a blue background", []int{3, 9 + 1, 18 + 1, 24 + 2, 27 + 6, 37, 46, 52, 55, 65}},
		// yellow=4 triangle=3 above=1 green=2 square=2
		{"a yellow triangle above a green square", []int{0, 9 + 4, 18 + 3, 24, 27, 37 + 2, 46 + 2, 52, 55, 65 + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.prompt, func(t *testing.T) {
			v, err := Condition(tt.prompt)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, ConditionSize)
			for _, i := range tt.ones {
				want[i] = 1
			}
			for i := range v {
				if v[i] != want[i] {
					t.Fatalf("element %d = %v, want %v (got ones at %v)", i, v[i], want[i], ones(v))
				}
			}
		})
	}
	if _, err := Condition("a photograph of a cat"); err == nil {
		t.Fatal("Condition of a prompt outside the vocabulary: no error")
	}
}

func ones(v []float32) []int {
	var o []int
	for i, x := range v {
		if x != 0 {
			o = append(o, i)
		}
	}
	return o
}
