package pipeline

import "testing"

// BenchmarkCombineCFGFrames times SVD's per-frame guidance on the latents
// of one 14-frame 1024×576 clip (4 × 72 × 128 per frame); it must not
// allocate.
func BenchmarkCombineCFGFrames(b *testing.B) {
	const frames, frameSize = 14, 4 * 72 * 128
	n := frames * frameSize
	out := make([]float32, 2*n)
	for i := range out {
		out[i] = float32(i%13) * 0.1
	}
	dst := make([]float32, n)
	scales := frameGuidance(1, 3, frames)
	b.SetBytes(int64(3 * 4 * n))
	b.ReportAllocs()
	for b.Loop() {
		combineCFGFrames(dst, out, scales, frameSize)
	}
}
