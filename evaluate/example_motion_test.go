package evaluate_test

import (
	"fmt"
	"image"

	"github.com/imagegen/imagegen/evaluate"
	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

func ExampleCheckMotion() {
	s, _ := shapes.GenerateMotion(2, 32, 8)
	frames := make([]image.Image, len(s.Frames))
	for i, f := range s.Frames {
		frames[i] = f
	}
	clip, _ := videoio.FromImages(frames, 8)
	score, err := evaluate.CheckMotion(clip, s.Caption)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Caption)
	for _, t := range score.Shapes {
		fmt.Println(t.Want.Motion, "read as", t.Motion, "stable:", t.ColorStable, t.ShapeStable)
	}
	fmt.Println("passed:", score.Passed())
	// Output:
	// a black circle moving to the right on a yellow background
	// moving right read as moving right stable: pass pass
	// passed: true
}
