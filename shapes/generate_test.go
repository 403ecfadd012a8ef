package shapes

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestPaletteIsFarApart(t *testing.T) {
	for i, a := range Colors {
		for _, b := range Colors[i+1:] {
			if d := math.Sqrt(paletteLab[a].dist2(paletteLab[b])); d < 30 {
				t.Errorf("%s and %s are %.1f apart in CIELAB, want at least 30", a, b, d)
			}
		}
		if got := NearestColor(a.RGB()); got != a {
			t.Errorf("NearestColor(%s) = %s", a, got)
		}
	}
}

func TestGeometry(t *testing.T) {
	// Fill ratio of the bounding box: the textbook values for circle
	// (π/4), square (1) and triangle (1/2); star and heart in between.
	tests := []struct {
		kind     Kind
		min, max float64
	}{
		{Circle, 0.780, 0.790},
		{Square, 0.995, 1.001},
		{Triangle, 0.495, 0.505},
		{Star, 0.40, 0.60},
		{Heart, 0.60, 0.75},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			g := geometry()[tc.kind]
			fill := g.area / ((g.maxU - g.minU) * (g.maxV - g.minV))
			if fill < tc.min || fill > tc.max {
				t.Errorf("fill ratio %.3f, want in [%.3f, %.3f]", fill, tc.min, tc.max)
			}
			if half := max(g.maxU-g.minU, g.maxV-g.minV) / 2; math.Abs(half-visualScale(tc.kind)) > 0.01 {
				t.Errorf("half extent %.3f, want %.3f", half, visualScale(tc.kind))
			}
		})
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, size := range []int{32, 64} {
		a, err := Generate(12345, size)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(12345, size)
		if !bytes.Equal(a.Image.Pix, b.Image.Pix) || a.Caption != b.Caption || a.Scene.String() != b.Scene.String() {
			t.Errorf("size %d: two calls with seed 12345 differ", size)
		}
		c, _ := Generate(12346, size)
		if bytes.Equal(a.Image.Pix, c.Image.Pix) {
			t.Errorf("size %d: seeds 12345 and 12346 give the same picture", size)
		}
	}
	s32, _ := Generate(7, 32)
	s64, _ := Generate(7, 64)
	if s32.Caption != s64.Caption || s32.Caption != Caption(7) {
		t.Errorf("captions of seed 7 differ by size: %q, %q, %q", s32.Caption, s64.Caption, Caption(7))
	}
}

func TestSamplesAreConsistent(t *testing.T) {
	counts := map[string]int{}
	for i := range 2000 {
		s, err := Dataset{Size: 32}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Scene.Validate(); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if s.Scene.Background == NoColor {
			t.Fatalf("sample %d: no background", i)
		}
		got, err := ParsePrompt(s.Caption)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if got.String() != s.Prompt.String() {
			t.Fatalf("sample %d: ParsePrompt(%q) = %q, want %q", i, s.Caption, got, s.Prompt)
		}
		// The canonical caption of the whole scene reads back too.
		if full, err := ParsePrompt(s.Scene.String()); err != nil || full.String() != s.Scene.String() {
			t.Fatalf("sample %d: ParsePrompt(%q) = %q, %v", i, s.Scene.String(), full, err)
		}
		for j, p := range s.Placements {
			b := boxOf(s.Scene.Shapes[j].Kind, Placement{p.X / 32, p.Y / 32, p.R / 32})
			if b.x0 < 0 || b.y0 < 0 || b.x1 > 1 || b.y1 > 1 {
				t.Fatalf("sample %d: shape %d box %+v leaves the picture", i, j, b)
			}
		}
		if len(s.Placements) == 2 {
			a := boxOf(s.Scene.Shapes[0].Kind, s.Placements[0])
			b := boxOf(s.Scene.Shapes[1].Kind, s.Placements[1])
			if a.overlaps(b, 0) {
				t.Fatalf("sample %d: shapes overlap", i)
			}
		}
		counts[s.Scene.Shapes[0].Kind.String()]++
		counts[s.Scene.Shapes[0].Color.String()]++
		counts[s.Scene.Shapes[0].Position.String()]++
		counts[s.Scene.Relation.String()]++
		counts[s.Scene.Shapes[0].Size.String()]++
	}
	// Every value shows up: the generator covers the whole language.
	for _, k := range Kinds {
		if counts[k.String()] < 100 {
			t.Errorf("kind %s: %d of 2000 first shapes", k, counts[k.String()])
		}
	}
	for _, c := range Colors {
		if counts[c.String()] < 50 {
			t.Errorf("color %s: %d of 2000 first shapes", c, counts[c.String()])
		}
	}
	for _, p := range Positions {
		if counts[p.String()] < 30 {
			t.Errorf("position %s: %d of 2000 first shapes", p, counts[p.String()])
		}
	}
	for _, r := range []Relation{Above, Below, LeftOf, RightOf} {
		if counts[r.String()] < 50 {
			t.Errorf("relation %s: %d of 2000 scenes", r, counts[r.String()])
		}
	}
	if counts["small"] < 500 || counts["large"] < 500 {
		t.Errorf("sizes: %d small, %d large", counts["small"], counts["large"])
	}
}

func TestSplits(t *testing.T) {
	lo, hi := HeldOut.SeedRange()
	if tlo, thi := Train.SeedRange(); tlo != 0 || thi != lo || hi <= lo {
		t.Errorf("seed ranges train [%d, %d), held-out [%d, %d) overlap", tlo, thi, lo, hi)
	}
	s, err := Dataset{Split: HeldOut, Size: 32}.Sample(3)
	if err != nil || s.Seed != lo+3 {
		t.Errorf("held-out sample 3: seed %d, %v; want %d", s.Seed, err, lo+3)
	}
	prompts := HeldOutPrompts(50)
	seen := map[string]bool{}
	for _, p := range prompts {
		if seen[p] {
			t.Errorf("prompt %q twice", p)
		}
		seen[p] = true
		if _, err := ParsePrompt(p); err != nil {
			t.Error(err)
		}
	}
	if len(prompts) != 50 || prompts[0] != Caption(lo) {
		t.Errorf("HeldOutPrompts(50): %d prompts, first %q, want %q", len(prompts), prompts[0], Caption(lo))
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"size too small", func() error { _, err := Generate(1, 8); return err }, ErrSize},
		{"size too large", func() error { _, err := Generate(1, 5000); return err }, ErrSize},
		{"negative index", func() error { _, err := Dataset{Size: 32}.Sample(-1); return err }, nil},
		{"unknown split", func() error { _, err := Dataset{Split: 7, Size: 32}.Sample(0); return err }, nil},
		{"render without background", func() error {
			_, err := Render(Scene{Shapes: []Shape{{Kind: Circle, Color: Red}}}, []Placement{{16, 16, 5}}, 32)
			return err
		}, ErrInvalidScene},
		{"render with NaN placement", func() error {
			_, err := Render(Scene{Background: Blue, Shapes: []Shape{{Kind: Circle, Color: Red}}}, []Placement{{math.NaN(), 16, 5}}, 32)
			return err
		}, ErrInvalidScene},
		{"render with too few placements", func() error {
			_, err := Render(Scene{Background: Blue, Shapes: []Shape{{Kind: Circle, Color: Red}}}, nil, 32)
			return err
		}, ErrInvalidScene},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSceneValidate(t *testing.T) {
	red := Shape{Kind: Circle, Color: Red}
	blue := Shape{Kind: Star, Color: Blue}
	tests := []struct {
		name  string
		scene Scene
		ok    bool
	}{
		{"one shape", Scene{Shapes: []Shape{red}}, true},
		{"relation", Scene{Shapes: []Shape{red, blue}, Relation: Above, Background: White}, true},
		{"no shapes", Scene{}, false},
		{"three shapes", Scene{Shapes: []Shape{red, blue, {Kind: Heart, Color: Green}}}, false},
		{"same colors", Scene{Shapes: []Shape{red, {Kind: Star, Color: Red}}}, false},
		{"shape in background color", Scene{Shapes: []Shape{red}, Background: Red}, false},
		{"relation with one shape", Scene{Shapes: []Shape{red}, Relation: Below}, false},
		{"no color", Scene{Shapes: []Shape{{Kind: Circle}}}, false},
		{"no kind", Scene{Shapes: []Shape{{Color: Red}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.scene.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidScene) {
				t.Errorf("err = %v, want ErrInvalidScene", err)
			}
		})
	}
}
