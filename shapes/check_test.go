package shapes

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// perturbation degrades a render the way a model's output may be off.
type perturbation struct {
	name  string
	floor float64 // least accuracy of every attribute
	apply func(img *image.NRGBA, seed uint64) *image.NRGBA
}

var perturbations = []perturbation{
	{"clean", 0.99, func(img *image.NRGBA, _ uint64) *image.NRGBA { return img }},
	{"noise8", 0.95, func(img *image.NRGBA, seed uint64) *image.NRGBA { return addNoise(img, 8, seed) }},
	{"noise16", 0.90, func(img *image.NRGBA, seed uint64) *image.NRGBA { return addNoise(img, 16, seed) }},
	{"blur", 0.95, func(img *image.NRGBA, _ uint64) *image.NRGBA { return blur3(img) }},
	{"blur+noise8", 0.90, func(img *image.NRGBA, seed uint64) *image.NRGBA { return addNoise(blur3(img), 8, seed) }},
}

// addNoise adds Gaussian noise of standard deviation sigma (in 8-bit
// levels) to each channel.
func addNoise(img *image.NRGBA, sigma float64, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := image.NewNRGBA(img.Bounds())
	copy(out.Pix, img.Pix)
	for i := range out.Pix {
		if i%4 == 3 {
			continue
		}
		v := float64(out.Pix[i]) + rng.NormFloat64()*sigma
		out.Pix[i] = uint8(math.Round(min(max(v, 0), 255)))
	}
	return out
}

// blur3 is a 3x3 binomial blur (about a 0.85-pixel Gaussian), edges
// clamped.
func blur3(img *image.NRGBA) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(b)
	w := [3]float64{1, 2, 1}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var acc [3]float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					sx := min(max(x+dx, b.Min.X), b.Max.X-1)
					sy := min(max(y+dy, b.Min.Y), b.Max.Y-1)
					o := img.PixOffset(sx, sy)
					for c := range 3 {
						acc[c] += w[dx+1] * w[dy+1] * float64(img.Pix[o+c])
					}
				}
			}
			o := out.PixOffset(x, y)
			for c := range 3 {
				out.Pix[o+c] = uint8(math.Round(acc[c] / 16))
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}

// TestCheckerOnGroundTruth checks the generator's own renders against
// their captions and against their complete scenes (every attribute),
// clean and degraded. Clean renders must score at least 99% on every
// attribute; the degraded ones are held to the floors above (heavy noise
// on a 32x32 picture costs a few points); all figures are logged.
func TestCheckerOnGroundTruth(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	for _, size := range []int{32, 64} {
		samples := make([]Sample, n)
		for i := range samples {
			s, err := Dataset{Split: HeldOut, Size: size}.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			samples[i] = s
		}
		for _, pt := range perturbations {
			t.Run(pt.name+"/"+itoa(size), func(t *testing.T) {
				var byPrompt, byScene Report
				for _, s := range samples {
					img := pt.apply(s.Image, s.Seed)
					sp, err := Check(img, s.Caption)
					if err != nil {
						t.Fatal(err)
					}
					byPrompt.Add(sp)
					ss, err := CheckScene(img, s.Scene)
					if err != nil {
						t.Fatal(err)
					}
					byScene.Add(ss)
				}
				t.Logf("prompt: %v", byPrompt)
				t.Logf("scene:  %v", byScene)
				floor := pt.floor
				for _, r := range []Report{byPrompt, byScene} {
					for name, a := range map[string]Accuracy{"color": r.Color, "shape": r.Shape, "size": r.Size, "position": r.Position, "background": r.Background} {
						if a.Rate() < floor {
							t.Errorf("%s accuracy %v, want at least %.0f%%", name, a, 100*floor)
						}
					}
				}
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCheckerCatchesMistakes draws the wrong picture for a prompt and
// expects the attribute that differs, and only it, to fail.
func TestCheckerCatchesMistakes(t *testing.T) {
	base := Scene{Background: White, Shapes: []Shape{{Kind: Star, Color: Red, Size: Large, Position: TopLeft}}}
	place := []Placement{{X: 0.27 * 64, Y: 0.27 * 64, R: largeRadius * 64}}
	pair := Scene{Background: Black, Relation: Above, Shapes: []Shape{{Kind: Circle, Color: Yellow}, {Kind: Heart, Color: Green}}}
	tests := []struct {
		name   string
		drawn  Scene
		placed []Placement
		prompt string
		fails  []string
	}{
		{"right", base, place, "a large red star at the top left on a white background", nil},
		{"color", base, place, "a large blue star at the top left", []string{"color"}},
		{"shape", base, place, "a large red heart at the top left", []string{"shape"}},
		{"size", base, place, "a small red star at the top left", []string{"size"}},
		{"position", base, place, "a red star at the bottom right", []string{"position"}},
		{"background", base, place, "a red star on a black background", []string{"background"}},
		{"relation right", pair, []Placement{{32, 16, 8}, {32, 46, 8}}, "a yellow circle above a green heart", nil},
		{"relation wrong", pair, []Placement{{32, 16, 8}, {32, 46, 8}}, "a yellow circle below a green heart", []string{"position"}},
		{"missing shape", base, place, "a red star above a blue square", []string{"color", "shape", "position"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Render(tc.drawn, tc.placed, 64)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Check(img, tc.prompt)
			if err != nil {
				t.Fatal(err)
			}
			verdicts := map[string]Verdict{"color": s.Color, "shape": s.Shape, "size": s.Size, "position": s.Position, "background": s.Background}
			for name, v := range verdicts {
				if (v == Fail) != slices.Contains(tc.fails, name) {
					t.Errorf("%s: %v (want fail only for %q); shapes %+v", name, v, tc.fails, s.Shapes)
				}
			}
			if s.Passed() != (len(tc.fails) == 0) {
				t.Errorf("Passed() = %v", s.Passed())
			}
		})
	}
}

func TestCheckOtherImageTypes(t *testing.T) {
	s, _ := Generate(3, 64)
	rgba := image.NewRGBA(image.Rect(10, 10, 74, 74)) // offset bounds
	for y := range 64 {
		for x := range 64 {
			rgba.Set(10+x, 10+y, s.Image.At(x, y))
		}
	}
	sc, err := CheckScene(rgba, s.Scene)
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Passed() {
		t.Errorf("RGBA copy of sample 3 fails: %+v", sc)
	}
}

func TestCheckErrors(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	tests := []struct {
		name   string
		img    image.Image
		prompt string
		want   error
	}{
		{"bad prompt", img, "a purple cow", ErrPrompt},
		{"tiny image", image.NewNRGBA(image.Rect(0, 0, 4, 4)), "a red circle", ErrSize},
		{"nil image", nil, "a red circle", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(tc.img, tc.prompt)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A blank picture is no error: every shape is missing.
	blank := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range blank.Pix {
		blank.Pix[i] = 255
	}
	s, err := Check(blank, "a red circle on a white background")
	if err != nil {
		t.Fatal(err)
	}
	if s.Shapes[0].Found || s.Color != Fail || s.Background != Pass {
		t.Errorf("blank picture: %+v", s)
	}
	if _, err := Evaluate([]Case{{blank, "a red circle"}, {blank, "a red cow"}}); !errors.Is(err, ErrPrompt) {
		t.Errorf("Evaluate with a bad prompt: %v", err)
	}
}

// TestCheckerTouchingShapes draws a large and a small shape touching, the
// way a model often draws two-shape prompts, and expects both to be
// found with every attribute right: the small one's core is too small a
// share of the joint region to split it by the vote alone, and on some
// backgrounds its color is nearer the background than the large one's.
func TestCheckerTouchingShapes(t *testing.T) {
	tests := []struct {
		prompt string
		big    Shape // drawn to the right of or below small
		small  Shape
		bg     Color
		below  bool
	}{
		{"a large yellow star to the right of a small red heart on a purple background",
			Shape{Kind: Star, Color: Yellow, Size: Large}, Shape{Kind: Heart, Color: Red, Size: Small}, Purple, false},
		{"a large red heart to the right of a small green circle on a white background",
			Shape{Kind: Heart, Color: Red, Size: Large}, Shape{Kind: Circle, Color: Green, Size: Small}, White, false},
		{"a large blue circle below a small black heart on a yellow background",
			Shape{Kind: Circle, Color: Blue, Size: Large}, Shape{Kind: Heart, Color: Black, Size: Small}, Yellow, true},
		{"a large white star below a small green circle on a blue background",
			Shape{Kind: Star, Color: White, Size: Large}, Shape{Kind: Circle, Color: Green, Size: Small}, Blue, true},
	}
	for _, size := range []int{32, 64} {
		for _, tc := range tests {
			t.Run(itoa(size)+"/"+tc.prompt, func(t *testing.T) {
				s := float64(size)
				rb, rs := largeRadius*s, smallRadius*s
				gap := 0.85 * (rb + rs) // the two overlap a little
				small := Placement{X: 0.5*s - gap/2, Y: 0.5 * s, R: rs}
				big := Placement{X: 0.5*s + gap/2, Y: 0.5 * s, R: rb}
				if tc.below {
					small.X, small.Y, big.X, big.Y = 0.5*s, 0.5*s-gap/2, 0.5*s, 0.5*s+gap/2
				}
				img, err := Render(Scene{Background: tc.bg, Shapes: []Shape{tc.small, tc.big}}, []Placement{small, big}, size)
				if err != nil {
					t.Fatal(err)
				}
				sc, err := Check(img, tc.prompt)
				if err != nil {
					t.Fatal(err)
				}
				if !sc.Passed() || sc.Extra != 0 {
					t.Errorf("color %v shape %v size %v position %v, %d extra regions; shapes %+v", sc.Color, sc.Shape, sc.Size, sc.Position, sc.Extra, sc.Shapes)
				}
			})
		}
	}
}
