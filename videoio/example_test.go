package videoio_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/videoio"
)

func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "videoio-example")
	defer os.RemoveAll(dir)
	// Two 4x4 frames: black, then white.
	c := videoio.Clip{F: 2, H: 4, W: 4, FPS: 8, Frames: make([]float32, 2*4*4*3)}
	for i := 4 * 4 * 3; i < len(c.Frames); i++ {
		c.Frames[i] = 1
	}
	for _, name := range []string{"clip.gif", "clip.png", "clip.npy"} {
		if err := videoio.Write(filepath.Join(dir, name), c); err != nil {
			fmt.Println(err)
		}
	}
	back, _ := videoio.LoadNPY(filepath.Join(dir, "clip.npy"))
	fmt.Println(back.F, back.H, back.W, back.Frames[len(back.Frames)-1])

	err := videoio.Write(filepath.Join(dir, "clip.jpg"), c)
	fmt.Println(errors.Is(err, videoio.ErrNotVideo))
	// Output:
	// 2 4 4 1
	// true
}

func ExampleIsVideoPath() {
	fmt.Println(videoio.IsVideoPath("out.gif"), videoio.IsVideoPath("out.webm"), videoio.IsVideoPath("out.jpg"))
	// Output: true true false
}

func ExampleWriteFrames() {
	dir, _ := os.MkdirTemp("", "videoio-frames")
	defer os.RemoveAll(dir)
	c := videoio.Clip{F: 3, H: 2, W: 2, Frames: make([]float32, 3*2*2*3)}
	if err := videoio.WriteFrames(filepath.Join(dir, "frames"), c); err != nil {
		fmt.Println(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "frames", "*.png"))
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	// Output:
	// frame_0000.png
	// frame_0001.png
	// frame_0002.png
}
