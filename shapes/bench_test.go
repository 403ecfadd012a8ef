package shapes

import (
	"fmt"
	"testing"
)

// BenchmarkGenerate10k generates 10,000 samples of 32x32 (one op is all
// 10,000).
func BenchmarkGenerate10k(b *testing.B) {
	for b.Loop() {
		for i := range 10000 {
			if _, err := Generate(uint64(i), 32); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, size := range []int{32, 64} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			i := uint64(0)
			for b.Loop() {
				if _, err := Generate(i, size); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, size := range []int{32, 64} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			samples := make([]Sample, 64)
			for i := range samples {
				samples[i], _ = Generate(uint64(i), size)
			}
			i := 0
			for b.Loop() {
				s := samples[i%len(samples)]
				if _, err := Check(s.Image, s.Caption); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkParsePrompt(b *testing.B) {
	p := "a black background with a large orange triangle to the right of a blue heart"
	for b.Loop() {
		if _, err := ParsePrompt(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLearnBPE(b *testing.B) {
	captions := trainCaptions(10000)
	for b.Loop() {
		if _, err := LearnBPE(captions, BPEOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
