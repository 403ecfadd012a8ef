package prompt

import (
	"fmt"
	"math"
	"testing"
)

// The cases of parse_prompt_attention's docstring in AUTOMATIC1111's
// modules/prompt_parser.py, then BREAK, escapes and unbalanced brackets.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Span
	}{
		{"normal text", []Span{{Text: "normal text", Weight: 1}}},
		{"an (important) word", []Span{{Text: "an ", Weight: 1}, {Text: "important", Weight: 1.1}, {Text: " word", Weight: 1}}},
		{"(unbalanced", []Span{{Text: "unbalanced", Weight: 1.1}}},
		{`\(literal\]`, []Span{{Text: "(literal]", Weight: 1}}},
		{"(unnecessary)(parens)", []Span{{Text: "unnecessaryparens", Weight: 1.1}}},
		{"a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", []Span{
			{Text: "a ", Weight: 1}, {Text: "house", Weight: 1.573}, {Text: " ", Weight: 1.1}, {Text: "on", Weight: 1},
			{Text: " a ", Weight: 1.1}, {Text: "hill", Weight: 0.55}, {Text: ", sun, ", Weight: 1.1},
			{Text: "sky", Weight: 1.4641}, {Text: ".", Weight: 1.1}}},
		{"", []Span{{Text: "", Weight: 1}}},
		{"((word))", []Span{{Text: "word", Weight: 1.21}}},
		{"[word]", []Span{{Text: "word", Weight: 1 / 1.1}}},
		{"[[word]]", []Span{{Text: "word", Weight: 1 / 1.21}}},
		{"(word:1.3)", []Span{{Text: "word", Weight: 1.3}}},
		{"(word: 0.7 )", []Span{{Text: "word", Weight: 0.7}}},
		{"a cat) sitting", []Span{{Text: "a cat) sitting", Weight: 1}}},
		{"a cat] sitting", []Span{{Text: "a cat] sitting", Weight: 1}}},
		{"ratio 16:9", []Span{{Text: "ratio 16:9", Weight: 1}}},
		{"word:1.3) more", []Span{{Text: "word:1.3) more", Weight: 1}}},
		{`a \\ b`, []Span{{Text: `a \ b`, Weight: 1}}},
		{"[a (b] c)", []Span{{Text: "a ", Weight: 1 / 1.1}, {Text: "b", Weight: 1}, {Text: " c", Weight: 1.1}}},
		{"red BREAK blue", []Span{{Text: "red", Weight: 1}, {Break: true, Weight: -1}, {Text: "blue", Weight: 1}}},
		{"BREAKFAST", []Span{{Text: "BREAKFAST", Weight: 1}}},
		{"(a BREAK b)", []Span{{Text: "a", Weight: 1.1}, {Break: true, Weight: -1.1}, {Text: "b", Weight: 1.1}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := Parse(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Text != w.Text || g.Break != w.Break || math.Abs(g.Weight-w.Weight) > 1e-12 {
					t.Errorf("span %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a (b:1.2) [c]", `\(x\)`, "((((", "]]]:", "a BREAK b", "(x:.)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans := Parse(s)
		if len(spans) == 0 {
			t.Fatal("no spans")
		}
		for _, sp := range spans {
			if math.IsNaN(sp.Weight) {
				t.Fatalf("span %+v has a NaN weight", sp)
			}
		}
	})
}

func ExampleParse() {
	for _, s := range Parse("a (red:1.3) cat, [blurry]") {
		fmt.Printf("%q %.3f\n", s.Text, s.Weight)
	}
	// Output:
	// "a " 1.000
	// "red" 1.300
	// " cat, " 1.000
	// "blurry" 0.909
}

func TestExtractLoRATags(t *testing.T) {
	for _, tc := range []struct {
		in, clean string
		tags      []LoRATag
	}{
		{"a cat", "a cat", nil},
		{"a cat <lora:style:0.8>", "a cat ", []LoRATag{{"style", 0.8}}},
		{"<lora:a>x<lora:b:-1:0.5>", "x", []LoRATag{{"a", 1}, {"b", -1}}},
		{"<lora:bad:abc> y", " y", []LoRATag{{"bad", 1}}},
		{"<lora:> z", "<lora:> z", nil},
	} {
		clean, tags := ExtractLoRATags(tc.in)
		if clean != tc.clean || fmt.Sprint(tags) != fmt.Sprint(tc.tags) {
			t.Errorf("%q: got %q %v, want %q %v", tc.in, clean, tags, tc.clean, tc.tags)
		}
	}
}
