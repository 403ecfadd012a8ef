package rng

import "math"

// PyTorch's AVX2 randn kernel (normal_fill_16_AVX2) does not call the C
// library: it evaluates the logarithm, sine and cosine with the Cephes
// single-precision polynomials (through avx_mathfun.h) and forms the angle
// as a float32 product. Those results differ from correctly rounded ones by
// a unit in the last place here and there, and near a zero of the cosine one
// unit of angle moves a sample by more than 1e-6, so matching torch on x86
// means running the same float32 operations in the same order.
//
// PyTorch builds that kernel with FMA enabled and GCC contracts a multiply
// into the add or subtract that consumes it when the product has no other
// use; fma32 marks each such place, and every other product is wrapped in
// float32() so the Go compiler cannot fuse it. This contraction model
// reproduces the conformance latents bit for bit, where rounding every
// product separately leaves about one value in a hundred one unit off.

// fma32 returns a·b+c rounded once to float32.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact: 24+24 bits fit in 53
	s := p + float64(c)
	// s is rounded to float64 first. That second rounding only matters when
	// it lands exactly halfway between two float32 values (in float32's
	// normal range: the 29 dropped bits are 100…0; tinier results always
	// take the slow path), which is rare enough to leave to a call.
	if bits := math.Float64bits(s); bits&(1<<29-1) == 1<<28 || bits&(0x7ff<<52) < (1023-126)<<52 {
		s = breakFloat32Tie(p, float64(c), s)
	}
	return float32(s)
}

// breakFloat32Tie returns s = fl64(p+c), nudged by one float64 unit toward
// the part of p+c that rounding dropped when s lies exactly halfway between
// two float32 values, so that rounding s to float32 rounds p+c correctly.
func breakFloat32Tie(p, c, s float64) float64 {
	r := float32(s)
	other := math.Nextafter32(r, float32(math.Copysign(math.Inf(1), s-float64(r))))
	if r == other || float64(r)+float64(other) != 2*s {
		return s
	}
	bv := s - p
	lost := (p - (s - bv)) + (c - bv) // Knuth's two-sum error
	if lost == 0 {
		return s
	}
	return math.Nextafter(s, math.Copysign(math.Inf(1), lost))
}

// Cephes logf coefficients.
const (
	cephesSqrtHalf = float32(0.707106781186547524)
	logP0          = float32(7.0376836292e-2)
	logP1          = float32(-1.1514610310e-1)
	logP2          = float32(1.1676998740e-1)
	logP3          = float32(-1.2420140846e-1)
	logP4          = float32(1.4249322787e-1)
	logP5          = float32(-1.6668057665e-1)
	logP6          = float32(2.0000714765e-1)
	logP7          = float32(-2.4999993993e-1)
	logP8          = float32(3.3333331174e-1)
	logQ1          = float32(-2.12194440e-4) // ln 2 = logQ2 + logQ1, split for precision
	logQ2          = float32(0.693359375)
)

// logCephes is the natural logarithm of a positive float32 computed as
// log256_ps does: write x = 2^e·m with m in [√½, √2), then
// ln x = e·ln 2 + f − f²/2 + f³·P(f) with f = m−1.
func logCephes(x float32) float32 {
	if !(x > 0) {
		return float32(math.NaN())
	}
	x = max(x, math.Float32frombits(0x00800000)) // flush subnormals to the smallest normal
	bits := math.Float32bits(x)
	e := float32(int32(bits>>23)-0x7f) + 1
	f := math.Float32frombits(bits&^0x7f800000 | math.Float32bits(0.5)) // mantissa in [0.5, 1)
	if f < cephesSqrtHalf {
		e--
		f = (f - 1) + f
	} else {
		f--
	}
	z := float32(f * f)
	y := logP0
	for _, p := range [...]float32{logP1, logP2, logP3, logP4, logP5, logP6, logP7, logP8} {
		y = fma32(y, f, p)
	}
	y = float32(y * f)
	y = fma32(y, z, float32(e*logQ1))
	y = fma32(-z, 0.5, y)
	return fma32(e, logQ2, f+y)
}

// Cephes sinf/cosf coefficients and π/4 in three parts for the argument
// reduction.
const (
	fourOverPi = float32(1.27323954473516)
	minusDP1   = float32(-0.78515625)
	minusDP2   = float32(-2.4187564849853515625e-4)
	minusDP3   = float32(-3.77489497744594108e-8)
	sinP0      = float32(-1.9515295891e-4)
	sinP1      = float32(8.3321608736e-3)
	sinP2      = float32(-1.6666654611e-1)
	cosP0      = float32(2.443315711809948e-5)
	cosP1      = float32(-1.388731625493765e-3)
	cosP2      = float32(4.166664568298827e-2)
)

// sincosCephes returns sin x and cos x as sincos256_ps does: reduce |x| by
// an even multiple j of π/4, evaluate the sine and the cosine polynomial on
// the remainder, and let the octant pick which is which and their signs.
// Like the original it loses accuracy beyond |x| ≈ 8192; Box-Muller angles
// stay below 2π.
func sincosCephes(x float32) (sin, cos float32) {
	sinNeg := math.Signbit(float64(x))
	x = float32(math.Abs(float64(x)))
	j := int32(float32(x * fourOverPi)) // truncates, like cvttps
	j = (j + 1) &^ 1
	y := float32(j)
	if j&4 != 0 {
		sinNeg = !sinNeg
	}
	sinFromSinPoly := j&2 == 0
	cosNeg := (j-2)&4 == 0

	x = fma32(y, minusDP1, x)
	x = fma32(y, minusDP2, x)
	x = fma32(y, minusDP3, x)
	z := float32(x * x)

	c := fma32(cosP0, z, cosP1)
	c = fma32(c, z, cosP2)
	c = float32(c * z)
	c = fma32(c, z, -float32(z*0.5))
	c++

	s := fma32(sinP0, z, sinP1)
	s = fma32(s, z, sinP2)
	s = float32(s * z)
	s = fma32(s, x, x)

	if sinFromSinPoly {
		sin, cos = s, c
	} else {
		sin, cos = c, s
	}
	if sinNeg {
		sin = -sin
	}
	if cosNeg {
		cos = -cos
	}
	return sin, cos
}
