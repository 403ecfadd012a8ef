package watermark

import (
	"fmt"
	"math"
	"strings"
)

// ParseHex returns the bits of a hex string, four per digit, most
// significant first, as invisible-watermark's set_by_b16 orders them
// (np.unpackbits). An optional 0x prefix is allowed; upper and lower case
// both work. "b3ec907bb19e" gives SDXLBits. An empty string, an odd
// character or more than MaxBits bits is ErrBits.
func ParseHex(s string) ([]uint8, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if digits == "" {
		return nil, fmt.Errorf("%w: empty hex payload %q", ErrBits, s)
	}
	if 4*len(digits) > MaxBits {
		return nil, fmt.Errorf("%w: hex payload of %d digits, over %d bits", ErrBits, len(digits), MaxBits)
	}
	out := make([]uint8, 0, 4*len(digits))
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return nil, fmt.Errorf("%w: %q is not hex (character %d, %q)", ErrBits, s, i+1, string(rune(c)))
		}
		out = append(out, d>>3&1, d>>2&1, d>>1&1, d&1)
	}
	return out, nil
}

// FormatHex writes bits as hex digits, four bits per digit, most
// significant first; the last digit is padded with zero bits on the right
// when the count is not a multiple of 4.
func FormatHex(bits []uint8) string {
	var sb strings.Builder
	for i := 0; i < len(bits); i += 4 {
		var d byte
		for k := 0; k < 4; k++ {
			d <<= 1
			if i+k < len(bits) {
				d |= bits[i+k] & 1
			}
		}
		sb.WriteByte("0123456789abcdef"[d])
	}
	return sb.String()
}

// Comparison is how decoded bits compare with an expected payload.
type Comparison struct {
	// Matching is the number of positions where the bits agree, of Bits.
	Matching, Bits int
	// BitAccuracy is Matching / Bits.
	BitAccuracy float64
	// PValue is the chance that a picture carrying no mark, whose bits are
	// fair coin flips, agrees in Matching or more positions: the one-sided
	// binomial test P(X >= Matching), X ~ Binomial(Bits, 1/2).
	PValue float64
}

// Match reports whether every bit agrees.
func (c Comparison) Match() bool { return c.Bits > 0 && c.Matching == c.Bits }

// Compare compares decoded bits with the payload want, position by
// position; the two must have the same, non-zero, length.
func Compare(got, want []uint8) (Comparison, error) {
	if len(got) != len(want) || len(got) == 0 {
		return Comparison{}, fmt.Errorf("%w: comparing %d bits with %d", ErrBits, len(got), len(want))
	}
	c := Comparison{Bits: len(got)}
	for i := range got {
		if got[i]&1 == want[i]&1 {
			c.Matching++
		}
	}
	c.BitAccuracy = float64(c.Matching) / float64(c.Bits)
	c.PValue = binomialTail(c.Bits, c.Matching)
	return c, nil
}

// binomialTail is P(X >= k) for X ~ Binomial(n, 1/2), summed in log space
// so that it stays finite for any n.
func binomialTail(n, k int) float64 {
	if k <= 0 {
		return 1
	}
	// log C(n, i) - n log 2, accumulated term by term from i = k.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	var sum float64
	for i := k; i <= n; i++ {
		sum += math.Exp(lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2)
	}
	return min(sum, 1)
}
