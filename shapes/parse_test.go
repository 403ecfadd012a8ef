package shapes

import (
	"errors"
	"testing"
)

func TestParsePrompt(t *testing.T) {
	tests := []struct {
		prompt string
		want   Scene
	}{
		{"a red circle", Scene{Shapes: []Shape{{Kind: Circle, Color: Red}}}},
		{"A large blue star at the top left.", Scene{Shapes: []Shape{{Kind: Star, Color: Blue, Size: Large, Position: TopLeft}}}},
		{"a yellow triangle above a green square on a black background", Scene{Background: Black, Relation: Above,
			Shapes: []Shape{{Kind: Triangle, Color: Yellow}, {Kind: Square, Color: Green}}}},
		{"a black background with a little heart in purple in the lower right corner", Scene{Background: Black,
			Shapes: []Shape{{Kind: Heart, Color: Purple, Size: Small, Position: BottomRight}}}},
		{"an orange square to the right of a big white heart", Scene{Relation: RightOf,
			Shapes: []Shape{{Kind: Square, Color: Orange}, {Kind: Heart, Color: White, Size: Large}}}},
		{"a red star left of a blue circle", Scene{Relation: LeftOf, Shapes: []Shape{{Kind: Star, Color: Red}, {Kind: Circle, Color: Blue}}}},
		{"a green circle beneath a red star", Scene{Relation: Below, Shapes: []Shape{{Kind: Circle, Color: Green}, {Kind: Star, Color: Red}}}},
		{"a red circle on the left and a blue square near the top", Scene{
			Shapes: []Shape{{Kind: Circle, Color: Red, Position: Left}, {Kind: Square, Color: Blue, Position: Top}}}},
		{"a small red circle in the middle", Scene{Shapes: []Shape{{Kind: Circle, Color: Red, Size: Small, Position: Center}}}},
		{"a red circle and a blue square", Scene{Shapes: []Shape{{Kind: Circle, Color: Red}, {Kind: Square, Color: Blue}}}},
	}
	for _, tc := range tests {
		t.Run(tc.prompt, func(t *testing.T) {
			got, err := ParsePrompt(tc.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want.String() || got.Relation != tc.want.Relation || got.Background != tc.want.Background {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePromptErrors(t *testing.T) {
	for _, prompt := range []string{
		"",
		"a red",
		"a circle",
		"a red zebra",
		"a red circle, a blue square and a green star",
		"a red circle on a background",
		"a red circle on a blue background on a green background",
		"above a red circle",
		"a red circle above",
		"a red circle above a blue square below a green star",
		"a red circle on a red background",
		"a red circle and a red square",
		"a large small red circle",
		"a red blue circle",
		"at the left a red circle",
		"a red circle at the left at the top",
		"a red circle at the left right",
		"a red circle top left of a blue square",
	} {
		t.Run(prompt, func(t *testing.T) {
			s, err := ParsePrompt(prompt)
			if !errors.Is(err, ErrPrompt) {
				t.Errorf("ParsePrompt = %q, %v; want an ErrPrompt", s, err)
			}
		})
	}
}

func FuzzParsePrompt(f *testing.F) {
	for i := range 20 {
		f.Add(Caption(uint64(i)))
	}
	f.Add("a red circle at the left right of")
	f.Fuzz(func(t *testing.T, prompt string) {
		s, err := ParsePrompt(prompt)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParsePrompt(%q) returned an invalid scene: %v", prompt, err)
		}
		// The canonical caption of what was read reads back the same.
		again, err := ParsePrompt(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("ParsePrompt(%q) = %q, reads back as %q, %v", prompt, s, again, err)
		}
	})
}
