package rng

import "math"

// Both functions below turn 16 uniforms in [0, 1) into 16 standard normals
// in place, as ATen's normal_fill_16 family does: b[j] and b[j+8] (j < 8)
// become the pair r·cos θ, r·sin θ with r = √(−2 ln(1−b[j])) and
// θ = 2π·b[j+8]. They differ only in how each step is rounded.

// twoPiFloat32 is 2π rounded to float32, the constant the AVX2 kernel
// multiplies float uniforms by.
const twoPiFloat32 = float32(2 * math.Pi)

// boxMuller16AVX2 follows normal_fill_16_AVX2: the angle is a float32
// product and the logarithm, sine and cosine are the Cephes polynomials of
// cephes.go.
func boxMuller16AVX2(b *[16]float32) {
	for j := 0; j < 8; j++ {
		u1 := 1 - b[j] // [0, 1) -> (0, 1] so the logarithm is finite
		u2 := b[j+8]
		radius := float32(math.Sqrt(float64(-2 * logCephes(u1))))
		theta := float32(twoPiFloat32 * u2)
		sin, cos := sincosCephes(theta)
		b[j] = float32(radius * cos)
		b[j+8] = float32(radius * sin)
	}
}

// boxMuller16Portable follows the portable normal_fill_16: float32 values
// throughout, but the angle is formed in double precision before rounding,
// and the logarithm, sine and cosine are the C library's single-precision
// functions, which are correctly rounded in all but rare cases; evaluating
// them in float64 and rounding once reproduces them.
func boxMuller16Portable(b *[16]float32) {
	for j := 0; j < 8; j++ {
		u1 := 1 - b[j]
		u2 := b[j+8]
		logU := float32(math.Log(float64(u1)))
		radius := float32(math.Sqrt(float64(-2 * logU)))
		theta := float32(2 * math.Pi * float64(u2))
		sin, cos := math.Sincos(float64(theta))
		b[j] = float32(radius * float32(cos))
		b[j+8] = float32(radius * float32(sin))
	}
}
