package graphopt

import (
	"fmt"
	"math"
)

// nbitsWeight is a [N, K] weight quantized in ONNX Runtime's MatMulNBits
// layout: along K in blocks of blockSize, each block with its own scale
// and zero point, so w[n][k] ≈ (code - zeroPoint) * scale.
type nbitsWeight struct {
	n, k, bits, blockSize int
	packed                []byte    // [N][nBlocks][blockSize*bits/8], codes low bits first
	scales                []float32 // [N][nBlocks]
	zeroPoints            []byte    // [N][ceil(nBlocks*bits/8)], packed like the codes
}

func (q *nbitsWeight) blocks() int { return (q.k + q.blockSize - 1) / q.blockSize }

// checkNBits validates a bit width and block size MatMulNBits accepts.
func checkNBits(bits, blockSize int) error {
	if bits != 4 && bits != 8 {
		return fmt.Errorf("graphopt: %d bits: want 4 or 8", bits)
	}
	if blockSize < 16 || blockSize&(blockSize-1) != 0 {
		return fmt.Errorf("graphopt: block size %d: want a power of two of at least 16", blockSize)
	}
	return nil
}

// quantizeNBits quantizes w, a row-major [n, k] matrix (one row per
// output feature), asymmetrically: each block's range is widened to
// include zero, so zero stays exact, and split into 2^bits-1 steps. A
// last block that K does not fill is padded with zeros. roundScale, when
// not nil, rounds each scale to the precision it is stored in (float16)
// before the codes are computed, so codes and stored scales agree.
func quantizeNBits(w []float32, n, k, bits, blockSize int, roundScale func(float32) float32) *nbitsWeight {
	q := &nbitsWeight{n: n, k: k, bits: bits, blockSize: blockSize}
	nb := q.blocks()
	blob := blockSize * bits / 8
	zpRow := (nb*bits + 7) / 8
	q.packed = make([]byte, n*nb*blob)
	q.scales = make([]float32, n*nb)
	q.zeroPoints = make([]byte, n*zpRow)
	qmax := float32(int(1)<<bits - 1)
	codes := make([]byte, blockSize)
	for r := 0; r < n; r++ {
		row := w[r*k : (r+1)*k]
		for b := 0; b < nb; b++ {
			lo, hi := b*blockSize, min((b+1)*blockSize, k)
			var mn, mx float32
			for _, v := range row[lo:hi] {
				mn, mx = min(mn, v), max(mx, v)
			}
			scale := (mx - mn) / qmax
			if roundScale != nil {
				scale = roundScale(scale)
			}
			if scale == 0 || math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
				scale = 1
			}
			zp := clampRound(-mn/scale, qmax)
			for i := range codes {
				codes[i] = byte(zp)
				if lo+i < hi {
					codes[i] = byte(clampRound(row[lo+i]/scale+zp, qmax))
				}
			}
			q.scales[r*nb+b] = scale
			packCodes(q.packed[(r*nb+b)*blob:(r*nb+b+1)*blob], codes, bits)
			setCode(q.zeroPoints[r*zpRow:(r+1)*zpRow], b, byte(zp), bits)
		}
	}
	return q
}

func clampRound(v, qmax float32) float32 {
	return min(max(float32(math.RoundToEven(float64(v))), 0), qmax)
}

// packCodes writes codes into dst, bits each, the first code in the low
// bits of the first byte.
func packCodes(dst, codes []byte, bits int) {
	if bits == 8 {
		copy(dst, codes)
		return
	}
	for i := range dst {
		dst[i] = codes[2*i]&0xf | codes[2*i+1]<<4
	}
}

func setCode(dst []byte, i int, code byte, bits int) {
	if bits == 8 {
		dst[i] = code
		return
	}
	shift := uint(i%2) * 4
	dst[i/2] = dst[i/2]&^(0xf<<shift) | (code&0xf)<<shift
}

func code(src []byte, i, bits int) float32 {
	if bits == 8 {
		return float32(src[i])
	}
	return float32(src[i/2] >> (uint(i%2) * 4) & 0xf)
}

// dequantize returns the row-major [n, k] matrix q stands for, as
// MatMulNBits computes it: (code - zeroPoint) * scale.
func (q *nbitsWeight) dequantize() []float32 {
	nb := q.blocks()
	blob := q.blockSize * q.bits / 8
	zpRow := (nb*q.bits + 7) / 8
	out := make([]float32, q.n*q.k)
	for r := 0; r < q.n; r++ {
		for kk := 0; kk < q.k; kk++ {
			b, i := kk/q.blockSize, kk%q.blockSize
			c := code(q.packed[(r*nb+b)*blob:], i, q.bits)
			zp := code(q.zeroPoints[r*zpRow:], b, q.bits)
			out[r*q.k+kk] = (c - zp) * q.scales[r*nb+b]
		}
	}
	return out
}
