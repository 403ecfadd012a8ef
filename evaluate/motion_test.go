package evaluate_test

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// datasetClips returns n held-out clips with their captions.
func datasetClips(t *testing.T, n, size, frames int) ([]shapes.MotionSample, []evaluate.MotionCase) {
	t.Helper()
	var samples []shapes.MotionSample
	var cases []evaluate.MotionCase
	for i := range n {
		s, err := shapes.MotionDataset{Split: shapes.HeldOut, Size: size, Frames: frames}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, s)
		cases = append(cases, evaluate.MotionCase{Clip: clipOf(t, s.Frames), Prompt: s.Caption})
	}
	return samples, cases
}

func clipOf(t *testing.T, frames []*image.NRGBA) videoio.Clip {
	t.Helper()
	imgs := make([]image.Image, len(frames))
	for i, f := range frames {
		imgs[i] = f
	}
	c, err := videoio.FromImages(imgs, 8)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMotionCheckerOnGroundTruth(t *testing.T) {
	for _, tc := range []struct{ n, size, frames int }{{120, 32, 8}, {60, 32, 16}, {30, 64, 12}} {
		_, cases := datasetClips(t, tc.n, tc.size, tc.frames)
		r, err := evaluate.EvaluateMotion(cases)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%dx%d, %d frames:\n%v", tc.size, tc.size, tc.frames, r)
		for name, a := range map[string]shapes.Accuracy{"direction": r.Direction, "motion": r.Motion, "size trend": r.SizeTrend,
			"stable": r.Stable, "color change": r.ColorChange, "color": r.Color, "shape": r.Shape, "background": r.Background} {
			if a.Rate() < 0.97 || a.Total == 0 {
				t.Errorf("%d px %d frames: %s %v on the dataset's own clips, want ≥ 97%%", tc.size, tc.frames, name, a)
			}
		}
		if r.Flicker != 0 {
			t.Errorf("flicker %.3f on flat backgrounds, want 0", r.Flicker)
		}
	}
}

func TestMotionCheckerOnBlurredClips(t *testing.T) {
	// A model draws softer, noisier shapes than the renderer; at 32x32 a
	// 3x3 blur makes small shapes fit two classes about equally, and the
	// stability check must not read that as the shape changing.
	_, cases := datasetClips(t, 80, 32, 16)
	rng := rand.New(rand.NewPCG(3, 4))
	var r evaluate.MotionReport
	for _, c := range cases {
		clip := c.Clip
		blurred := make([]float32, len(clip.Frames))
		at := func(f, y, x, ch int) int { return ((f*clip.H+y)*clip.W+x)*3 + ch }
		for f := range clip.F {
			for y := range clip.H {
				for x := range clip.W {
					for ch := range 3 {
						var sum float64
						n := 0
						for yy := max(y-1, 0); yy <= min(y+1, clip.H-1); yy++ {
							for xx := max(x-1, 0); xx <= min(x+1, clip.W-1); xx++ {
								sum += float64(clip.Frames[at(f, yy, xx, ch)])
								n++
							}
						}
						v := sum/float64(n) + rng.NormFloat64()*8/255
						blurred[at(f, y, x, ch)] = float32(math.Min(math.Max(v, 0), 1))
					}
				}
			}
		}
		clip.Frames = blurred
		sc, err := evaluate.CheckMotion(clip, c.Prompt)
		if err != nil {
			t.Fatal(err)
		}
		r.Add(sc)
	}
	if r.Direction.Rate() < 0.95 || r.Stable.Rate() < 0.90 {
		t.Errorf("blurred clips: direction %v, stable %v; want ≥ 95%% and ≥ 90%%", r.Direction, r.Stable)
	}
	if r.Flicker < 7 || r.Flicker > 10.5 {
		t.Errorf("flicker %.2f with noise of σ 8 levels, want about 2σ/√π ≈ 9 less the clamping at 0 and 255", r.Flicker)
	}
}

// reversed returns the clip played backwards.
func reversed(c videoio.Clip) videoio.Clip {
	plane := c.H * c.W * 3
	out := c
	out.Frames = make([]float32, len(c.Frames))
	for k := range c.F {
		copy(out.Frames[k*plane:], c.Frames[(c.F-1-k)*plane:(c.F-k)*plane])
	}
	return out
}

func TestMotionCheckerCatchesReversedTime(t *testing.T) {
	samples, cases := datasetClips(t, 150, 32, 8)
	var moves, sizes evaluate.MotionReport
	for i, s := range samples {
		onlyMoves, onlySizes := true, true
		for _, sh := range s.Scene.Shapes {
			dx, dy := sh.Motion.Direction()
			onlyMoves = onlyMoves && (dx != 0 || dy != 0)
			onlySizes = onlySizes && (sh.Motion == shapes.Grow || sh.Motion == shapes.Shrink)
		}
		if !onlyMoves && !onlySizes {
			continue
		}
		sc, err := evaluate.CheckMotion(reversed(cases[i].Clip), cases[i].Prompt)
		if err != nil {
			t.Fatal(err)
		}
		if onlyMoves {
			moves.Add(sc)
		} else {
			sizes.Add(sc)
		}
	}
	if moves.Direction.Total < 30 || moves.Direction.Rate() > 0.03 {
		t.Errorf("direction %v on reversed moves, want ≤ 3%% of at least 30", moves.Direction)
	}
	if sizes.SizeTrend.Total < 10 || sizes.SizeTrend.Rate() > 0.03 {
		t.Errorf("size trend %v on reversed growth, want ≤ 3%% of at least 10", sizes.SizeTrend)
	}
	if moves.Stable.Rate() < 0.97 {
		t.Errorf("stable %v on reversed clips: reversing time changes no color or class", moves.Stable)
	}
}

func TestMotionCheckerCatchesUnstableShapes(t *testing.T) {
	samples, _ := datasetClips(t, 200, 32, 8)
	var colorSwap, kindSwap evaluate.MotionReport
	for _, s := range samples {
		sh := s.Scene.Shapes[0]
		if len(s.Scene.Shapes) != 1 || sh.Motion == shapes.ChangeColor {
			continue
		}
		// From the middle on, draw the shape in another color, or as
		// another class, on the same path.
		other := shapes.Colors[0]
		for _, c := range shapes.Colors {
			if c != sh.Color && c != s.Scene.Background {
				other = c
				break
			}
		}
		otherKind := shapes.Kinds[(int(sh.Kind))%len(shapes.Kinds)] // the next class
		colorFrames := append([]*image.NRGBA(nil), s.Frames...)
		kindFrames := append([]*image.NRGBA(nil), s.Frames...)
		for k := len(s.Frames) / 2; k < len(s.Frames); k++ {
			for _, swap := range []struct {
				frames []*image.NRGBA
				shape  shapes.Shape
			}{{colorFrames, shapes.Shape{Kind: sh.Kind, Color: other}}, {kindFrames, shapes.Shape{Kind: otherKind, Color: sh.Color}}} {
				img, err := shapes.Render(shapes.Scene{Background: s.Scene.Background, Shapes: []shapes.Shape{swap.shape}}, s.Tracks[k], 32)
				if err != nil {
					t.Fatal(err)
				}
				swap.frames[k] = img
			}
		}
		for _, run := range []struct {
			frames []*image.NRGBA
			r      *evaluate.MotionReport
		}{{colorFrames, &colorSwap}, {kindFrames, &kindSwap}} {
			sc, err := evaluate.CheckMotion(clipOf(t, run.frames), s.Caption)
			if err != nil {
				t.Fatal(err)
			}
			run.r.Add(sc)
		}
	}
	if colorSwap.ColorStable.Total < 50 || colorSwap.ColorStable.Rate() > 0.03 {
		t.Errorf("color stable %v with the color swapped mid-clip, want ≤ 3%% of at least 50", colorSwap.ColorStable)
	}
	if colorSwap.ShapeStable.Rate() < 0.95 {
		t.Errorf("shape stable %v with only the color swapped, want ≥ 95%%", colorSwap.ShapeStable)
	}
	if kindSwap.ShapeStable.Total < 50 || kindSwap.ShapeStable.Rate() > 0.10 {
		t.Errorf("shape stable %v with the class swapped mid-clip, want ≤ 10%% of at least 50", kindSwap.ShapeStable)
	}
}

func TestMotionFlicker(t *testing.T) {
	s, err := shapes.GenerateMotion(5, 32, 8)
	if err != nil {
		t.Fatal(err)
	}
	c := clipOf(t, s.Frames)
	// Independent uniform noise of ±4 levels on every frame: the mean
	// absolute difference of two such values is 8/3 levels.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range c.Frames {
		c.Frames[i] = float32(math.Min(math.Max(float64(c.Frames[i])+(rng.Float64()*8-4)/255, 0), 1))
	}
	sc, err := evaluate.CheckMotion(c, s.Caption)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Flicker < 2.2 || sc.Flicker > 3.0 {
		t.Errorf("flicker %.3f with ±4-level noise, want about 8/3", sc.Flicker)
	}
}

func TestCheckMotionErrors(t *testing.T) {
	s, _ := shapes.GenerateMotion(5, 32, 8)
	c := clipOf(t, s.Frames)
	if _, err := evaluate.CheckMotion(c, "a red dragon flying"); !errors.Is(err, shapes.ErrPrompt) {
		t.Errorf("bad prompt: got %v, want ErrPrompt", err)
	}
	one := c
	one.F, one.Frames = 1, c.Frames[:32*32*3]
	if _, err := evaluate.CheckMotion(one, s.Caption); err == nil {
		t.Error("one frame: no error")
	}
	small := videoio.Clip{F: 2, H: 8, W: 8, Frames: make([]float32, 2*8*8*3)}
	if _, err := evaluate.CheckMotion(small, s.Caption); !errors.Is(err, shapes.ErrSize) {
		t.Errorf("8x8 frames: got %v, want ErrSize", err)
	}
}

func BenchmarkCheckMotion(b *testing.B) {
	s, err := shapes.GenerateMotion(11, 32, 16)
	if err != nil {
		b.Fatal(err)
	}
	imgs := make([]image.Image, len(s.Frames))
	for i, f := range s.Frames {
		imgs[i] = f
	}
	c, _ := videoio.FromImages(imgs, 8)
	for b.Loop() {
		if _, err := evaluate.CheckMotion(c, s.Caption); err != nil {
			b.Fatal(err)
		}
	}
}
