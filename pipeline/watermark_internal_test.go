package pipeline

import (
	"math"
	"testing"

	"github.com/imagegen/imagegen/watermark"
)

func TestDecodedToImageWatermark(t *testing.T) {
	for _, size := range []int{256, 64} {
		chw := make([]float32, 3*size*size)
		for i := range chw {
			chw[i] = float32(math.Sin(float64(i)*0.37)) * 0.8
		}
		plain, marked := make([]float32, len(chw)), make([]float32, len(chw))
		if err := decodedToImage(plain, append([]float32(nil), chw...), size, size, ""); err != nil {
			t.Fatal(err)
		}
		if err := decodedToImage(marked, append([]float32(nil), chw...), size, size, WatermarkSDXL); err != nil {
			t.Fatal(err)
		}
		// What diffusers computes: the watermarker on the decoder output,
		// then the image processor.
		ref := append([]float32(nil), chw...)
		if err := watermark.ApplySDXL(ref, []int{1, 3, size, size}); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(chw))
		decodedToImage(want, ref, size, size, "")
		changed := 0
		for i := range marked {
			if marked[i] != want[i] {
				t.Fatalf("%d px: value %d = %v, want %v (watermarker, then post-processing)", size, i, marked[i], want[i])
			}
			if marked[i] != plain[i] {
				changed++
			}
		}
		switch {
		case size >= 256 && changed < len(chw)/4:
			t.Errorf("256 px: the watermark changed only %d of %d values", changed, len(chw))
		case size < 256 && changed != 0:
			t.Errorf("%d px: %d values changed; diffusers leaves pictures under 256 px wide unmarked", size, changed)
		}
	}
}
