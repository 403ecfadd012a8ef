package shapes

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestGenerateMotionIsDeterministic(t *testing.T) {
	a, err := GenerateMotion(99, 32, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateMotion(99, 32, 8)
	for k := range a.Frames {
		if !bytes.Equal(a.Frames[k].Pix, b.Frames[k].Pix) {
			t.Fatalf("frame %d differs between two calls with seed 99", k)
		}
	}
	if a.Caption != b.Caption || a.Caption != MotionCaption(99) {
		t.Errorf("captions %q, %q, MotionCaption %q", a.Caption, b.Caption, MotionCaption(99))
	}
	// The same seed at another size and length is the same motion: the
	// first and last frames sit at the same places, scaled.
	c, _ := GenerateMotion(99, 64, 16)
	if c.Caption != a.Caption {
		t.Errorf("caption changes with size: %q vs %q", c.Caption, a.Caption)
	}
	for _, k := range []int{0, 1} {
		pa, pc := a.Tracks[k*7], c.Tracks[k*15]
		for i := range pa {
			if math.Abs(2*pa[i].X-pc[i].X) > 1e-9 || math.Abs(2*pa[i].R-pc[i].R) > 1e-9 {
				t.Errorf("end %d shape %d: %+v at 32 px, %+v at 64 px", k, i, pa[i], pc[i])
			}
		}
	}
}

func TestMotionSamplesAreConsistent(t *testing.T) {
	counts := map[Motion]int{}
	twoShapes := 0
	for i := range 1500 {
		s, err := MotionDataset{Size: 32, Frames: 8}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Scene.Validate(); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		got, err := ParseMotionPrompt(s.Caption)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, s.Prompt) {
			t.Fatalf("sample %d %q: parsed %+v, want %+v", i, s.Caption, got, s.Prompt)
		}
		if len(s.Frames) != 8 || len(s.Tracks) != 8 {
			t.Fatalf("sample %d: %d frames, %d tracks", i, len(s.Frames), len(s.Tracks))
		}
		if len(s.Scene.Shapes) == 2 {
			twoShapes++
		}
		for j, sh := range s.Scene.Shapes {
			counts[sh.Motion]++
			first, last := s.Tracks[0][j], s.Tracks[7][j]
			dx, dy := (last.X-first.X)/32, (last.Y-first.Y)/32
			wx, wy := sh.Motion.Direction()
			switch {
			case wx != 0 || wy != 0:
				if dx*float64(wx)+dy*float64(wy) < 0.25 || math.Abs(dx*float64(wy))+math.Abs(dy*float64(wx)) > 1e-9 {
					t.Errorf("sample %d shape %d %v: moved (%.2f, %.2f)", i, j, sh.Motion, dx, dy)
				}
			case sh.Motion == Grow && last.R <= first.R, sh.Motion == Shrink && last.R >= first.R:
				t.Errorf("sample %d shape %d %v: radius %.1f to %.1f", i, j, sh.Motion, first.R, last.R)
			case !sh.Motion.Moves() && (dx != 0 || dy != 0):
				t.Errorf("sample %d shape %d %v: moved (%.2f, %.2f)", i, j, sh.Motion, dx, dy)
			}
		}
	}
	for _, m := range Motions {
		if counts[m] < 40 {
			t.Errorf("motion %v drawn %d times in 1500 clips, want at least 40", m, counts[m])
		}
	}
	if twoShapes < 450 || twoShapes > 750 {
		t.Errorf("%d of 1500 clips have two shapes, want about 600", twoShapes)
	}
}

func TestMotionFramesMatchTracks(t *testing.T) {
	// The checker's own finder sees each drawn shape where its track says.
	for i := range 40 {
		s, err := MotionDataset{Split: HeldOut, Size: 64, Frames: 8}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		for k, img := range s.Frames {
			f, err := FindShapes(img)
			if err != nil {
				t.Fatal(err)
			}
			if f.Background != s.Scene.Background || len(f.Regions) != len(s.Scene.Shapes) {
				t.Fatalf("clip %d frame %d: background %v with %d regions, want %v with %d", i, k, f.Background, len(f.Regions), s.Scene.Background, len(s.Scene.Shapes))
			}
			for _, r := range f.Regions {
				if r.Fits[r.Kind] != r.Fit {
					t.Fatalf("clip %d frame %d: Fits[%v] = %v, Fit %v", i, k, r.Kind, r.Fits[r.Kind], r.Fit)
				}
			}
			for j, p := range s.Tracks[k] {
				best := math.Inf(1)
				for _, r := range f.Regions {
					best = min(best, math.Hypot(r.X*64-p.X, r.Y*64-p.Y))
				}
				if best > 1.5 {
					t.Errorf("clip %d frame %d shape %d: nearest region %.1f px from the track", i, k, j, best)
				}
			}
		}
	}
}

func TestParseMotionPrompt(t *testing.T) {
	sh := func(k Kind, c Color, m Motion) MovingShape {
		return MovingShape{Shape: Shape{Kind: k, Color: c}, Motion: m}
	}
	tests := []struct {
		prompt string
		want   MotionScene
	}{
		{"a red circle moving from left to right on a blue background", MotionScene{Background: Blue, Shapes: []MovingShape{sh(Circle, Red, MoveRight)}}},
		{"A small star in yellow growing in the center.", MotionScene{Shapes: []MovingShape{{Shape: Shape{Kind: Star, Color: Yellow, Size: Small, Position: Center}, Motion: Grow}}}},
		{"a black background with a circle turning from red to blue", MotionScene{Background: Black,
			Shapes: []MovingShape{{Shape: Shape{Kind: Circle, Color: Red}, Motion: ChangeColor, To: Blue}}}},
		{"a green heart bouncing left and right and a white square falling", MotionScene{
			Shapes: []MovingShape{sh(Heart, Green, BounceSideways), sh(Square, White, MoveDown)}}},
		{"a red circle staying still at the top left", MotionScene{Shapes: []MovingShape{{Shape: Shape{Kind: Circle, Color: Red, Position: TopLeft}}}}},
		{"a purple triangle", MotionScene{Shapes: []MovingShape{sh(Triangle, Purple, Still)}}},
	}
	for _, tc := range tests {
		t.Run(tc.prompt, func(t *testing.T) {
			got, err := ParseMotionPrompt(tc.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v (%q), want %+v", got, got, tc.want)
			}
		})
	}
}

func TestParseMotionPromptErrors(t *testing.T) {
	for _, prompt := range []string{
		"",
		"moving from left to right a red circle",
		"a red circle moving up moving down",
		"a red circle above a blue square",
		"a circle changing from red to red",
		"a circle changing from red to blue on a blue background",
		"a circle changing from red to blue and a blue square",
		"a red circle dancing",
	} {
		if _, err := ParseMotionPrompt(prompt); !errors.Is(err, ErrPrompt) {
			t.Errorf("ParseMotionPrompt(%q): got %v, want ErrPrompt", prompt, err)
		}
	}
}

func TestGenerateMotionErrors(t *testing.T) {
	if _, err := GenerateMotion(1, 8, 8); !errors.Is(err, ErrSize) {
		t.Errorf("size 8: got %v, want ErrSize", err)
	}
	for _, f := range []int{0, 1, 65} {
		if _, err := GenerateMotion(1, 32, f); err == nil {
			t.Errorf("%d frames: no error", f)
		}
	}
	if _, err := (MotionDataset{Split: 7, Size: 32, Frames: 8}).Sample(0); err == nil {
		t.Error("unknown split: no error")
	}
	if _, err := (MotionDataset{Size: 32, Frames: 8}).Sample(-1); err == nil {
		t.Error("index -1: no error")
	}
}

func TestMotionCondition(t *testing.T) {
	v, err := MotionCondition("a circle changing from red to blue and a green star moving up on a white background")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != MotionConditionSize {
		t.Fatalf("length %d, want %d", len(v), MotionConditionSize)
	}
	still, _ := Condition("a red circle and a green star on a white background")
	for i := range ConditionSize {
		if v[i] != still[i] {
			t.Fatalf("value %d: %v, want the picture condition's %v", i, v[i], still[i])
		}
	}
	ones := []int{}
	for i, x := range v[ConditionSize:] {
		if x == 1 {
			ones = append(ones, i)
		}
	}
	// Shape 1: ChangeColor (9), to Blue (10+3); shape 2: MoveUp (19+4), no color (29+0).
	if want := []int{int(ChangeColor), 10 + int(Blue), 19 + int(MoveUp), 29}; !reflect.DeepEqual(ones, want) {
		t.Errorf("motion one-hots at %v, want %v", ones, want)
	}
	if MotionConditionSize != ConditionSize+2*(MotionClasses[0]+MotionClasses[1]) {
		t.Errorf("MotionConditionSize %d disagrees with MotionClasses %v", MotionConditionSize, MotionClasses)
	}
	u, err := MotionCondition("")
	if err != nil || u[0] != 1 || u[ConditionSize] != 1 {
		t.Errorf("unconditional: %v, %v", u[:3], err)
	}
	if _, err := MotionCondition("a red dragon"); !errors.Is(err, ErrPrompt) {
		t.Errorf("bad prompt: got %v, want ErrPrompt", err)
	}
}

func TestHeldOutMotionPromptsAreHeldOut(t *testing.T) {
	held := HeldOutMotionPrompts(200)
	if len(held) != 200 {
		t.Fatalf("got %d prompts", len(held))
	}
	seen := map[string]bool{}
	for _, p := range held {
		if seen[p] {
			t.Fatalf("duplicate %q", p)
		}
		seen[p] = true
	}
	lo, _ := HeldOut.SeedRange()
	if held[0] != MotionCaption(lo) {
		t.Errorf("first held-out prompt %q, want the caption of seed %d", held[0], lo)
	}
}

func FuzzParseMotionPrompt(f *testing.F) {
	for i := range 20 {
		f.Add(MotionCaption(uint64(i)))
	}
	f.Add("a circle changing from red to and a blue square moving up and down")
	f.Fuzz(func(t *testing.T, prompt string) {
		s, err := ParseMotionPrompt(prompt)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseMotionPrompt(%q) returned an invalid scene: %v", prompt, err)
		}
		// The canonical caption of what was read reads back the same.
		again, err := ParseMotionPrompt(s.String())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("ParseMotionPrompt(%q) = %q, reads back as %+v, %v", prompt, s, again, err)
		}
	})
}

func BenchmarkGenerateMotion(b *testing.B) {
	for _, size := range []int{32, 64} {
		b.Run(fmt.Sprintf("%dx16", size), func(b *testing.B) {
			i := uint64(0)
			for b.Loop() {
				if _, err := GenerateMotion(i, size, 16); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
