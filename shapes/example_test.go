package shapes_test

import (
	"fmt"
	"os"

	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/tokenizer"
)

func ExampleGenerate() {
	s, err := shapes.Generate(42, 32)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Caption)
	fmt.Println(s.Scene)
	fmt.Println(s.Image.Bounds().Size())
	// Output:
	// a black background with a large heart in blue in the lower left
	// a large blue heart at the bottom left on a black background
	// (32,32)
}

func ExampleParsePrompt() {
	s, err := shapes.ParsePrompt("A black background with a little heart in purple in the lower right corner")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)
	fmt.Println(s.Shapes[0].Kind, s.Shapes[0].Color, s.Shapes[0].Size, s.Shapes[0].Position, s.Background)
	// Output:
	// a small purple heart at the bottom right on a black background
	// heart purple small bottom right black
}

func ExampleCheck() {
	s, _ := shapes.Generate(1, 64)
	for _, prompt := range []string{s.Caption, "a yellow circle above a white circle", "a green star"} {
		score, err := shapes.Check(s.Image, prompt)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%q: color %v, shape %v, position %v, passed %v\n", prompt, score.Color, score.Shape, score.Position, score.Passed())
	}
	// Output:
	// "a yellow circle under a white circle": color pass, shape pass, position pass, passed true
	// "a yellow circle above a white circle": color pass, shape pass, position fail, passed false
	// "a green star": color fail, shape fail, position not asked, passed false
}

func ExampleEvaluate() {
	var cases []shapes.Case
	for i := range 20 {
		s, _ := shapes.Dataset{Split: shapes.HeldOut, Size: 64}.Sample(i)
		cases = append(cases, shapes.Case{Image: s.Image, Prompt: s.Caption})
	}
	r, err := shapes.Evaluate(cases)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Images, r.Color.Rate(), r.Shape.Rate(), r.Position.Rate())
	// Output:
	// 20 1 1 1
}

func ExampleLearnBPE() {
	var captions []string
	for seed := range uint64(1000) {
		captions = append(captions, shapes.Caption(seed))
	}
	v, err := shapes.LearnBPE(captions, shapes.BPEOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "vocab")
	defer os.RemoveAll(dir)
	if err := v.WriteDir(dir); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("a red star above a zebra")
	fmt.Println(tok.Tokens(ids))
	fmt.Println(tok.Decode(ids))
	// Output:
	// [<|startoftext|> a</w> red</w> star</w> above</w> a</w> z e b r a</w> <|endoftext|>]
	// a red star above a zebra
}

func ExampleGenerateMotion() {
	s, err := shapes.GenerateMotion(3, 32, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Caption)
	fmt.Println(s.Scene)
	fmt.Println(len(s.Frames), s.Frames[0].Bounds().Size())
	// Output:
	// a large star in yellow moving from bottom to top on an orange background
	// a large yellow star moving from bottom to top on an orange background
	// 8 (32,32)
}

func ExampleParseMotionPrompt() {
	s, err := shapes.ParseMotionPrompt("a blue background with a small yellow star getting bigger in the middle")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)
	fmt.Println(s.Shapes[0].Motion, s.Shapes[0].Size, s.Shapes[0].Position)
	// Output:
	// a small yellow star growing in the center on a blue background
	// growing small center
}

func ExampleShapeLabels() {
	s, err := shapes.ParsePrompt("a red circle at the top left")
	if err != nil {
		fmt.Println(err)
		return
	}
	labels := shapes.ShapeLabels(s)
	off := 0
	for _, h := range shapes.ShapeLabelHeads {
		for k, v := range labels[off : off+h.Classes] {
			if v == 1 {
				fmt.Printf("%s: class %d of %d\n", h.Name, k, h.Classes)
			}
		}
		off += h.Classes
	}
	// Output:
	// kind1: class 0 of 5
	// color1: class 0 of 8
	// cell1: class 5 of 9
}
