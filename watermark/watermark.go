package watermark

import (
	"errors"
	"fmt"
	"image"
	"image/color"
)

// Method names one of invisible-watermark's frequency-domain methods.
type Method string

const (
	// DwtDct is invisible-watermark's "dwtDct" (its EmbedMaxDct class), the
	// method diffusers applies to SDXL outputs. Despite the name it takes
	// no DCT: each bit goes into the largest AC coefficient of a 4x4 block
	// of the Haar approximation of the U plane.
	DwtDct Method = "dwtDct"
	// DwtDctSvd is invisible-watermark's "dwtDctSvd": each bit goes into
	// the largest singular value of the DCT of such a block.
	DwtDctSvd Method = "dwtDctSvd"
)

// Methods lists the methods this package implements.
var Methods = []Method{DwtDct, DwtDctSvd}

// ParseMethod returns the method named s, spelled as invisible-watermark
// spells it ("dwtDct", "dwtDctSvd"). Any other name, including the
// library's neural "rivaGan", is ErrUnknownMethod.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("%w %q (want dwtDct or dwtDctSvd)", ErrUnknownMethod, s)
}

var (
	// ErrUnknownMethod is returned (wrapped) by ParseMethod, Encode and
	// Decode for a method this package does not implement.
	ErrUnknownMethod = errors.New("watermark: unknown method")
	// ErrTooSmall is returned (wrapped) by Encode, Decode and ApplySDXL for
	// a picture of fewer than 256*256 pixels, which invisible-watermark
	// refuses ("image too small"), or with a side under 4 pixels, on which
	// it fails.
	ErrTooSmall = errors.New("watermark: image too small")
	// ErrBits is returned (wrapped) for a payload that cannot be used: no
	// bits, a value other than 0 or 1, a bad hex string, or a bit count
	// out of range.
	ErrBits = errors.New("watermark: bad bits")
	// ErrShape is returned (wrapped) by ApplySDXL when the shape is not
	// [N, 3, H, W] or does not match the number of values.
	ErrShape = errors.New("watermark: bad shape")
)

// MinPixels is the smallest picture, in pixels (height times width),
// that invisible-watermark encodes or decodes. It checks the area, not
// each side: 128x512 is accepted, 255x256 is not. (A side under 4 pixels
// also fails there, in its Haar transform.)
const MinPixels = 256 * 256

// MaxBits bounds the payload length Decode accepts, so that a bad
// argument cannot ask for a huge allocation. invisible-watermark has no
// bound; bits beyond the number of blocks read as 0 there and here.
const MaxBits = 1 << 16

// The library's parameters for both methods: blocks of 4x4 coefficients,
// quantization step 36, and only the U plane marked. Its scales are
// [0, 36, 36] for dwtDct and [0, 36, 0] for dwtDctSvd, but its loops run
// over channels 0 and 1 only, so V is never marked.
const (
	blockSize = 4
	scale     = 36
	markedCh  = 1 // U in cv2's YUV order
)

// rule is one method's work on a block of 16 coefficients (row-major).
type rule struct {
	embed func(blk *[16]float64, bit uint8)
	infer func(blk *[16]float64) uint8
}

func ruleFor(m Method) (rule, error) {
	switch m {
	case DwtDct:
		return rule{embedMaxCoef, inferMaxCoef}, nil
	case DwtDctSvd:
		return rule{embedSingular, inferSingular}, nil
	}
	return rule{}, fmt.Errorf("%w %q (want dwtDct or dwtDctSvd)", ErrUnknownMethod, string(m))
}

func checkSize(w, h int) error {
	if w*h < MinPixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, under %d (256x256)", ErrTooSmall, w, h, w*h, MinPixels)
	}
	if w < 4 || h < 4 {
		// The library's Haar transform fails on the empty plane that
		// cutting to a multiple of 4 leaves.
		return fmt.Errorf("%w: %dx%d has a side under 4 pixels", ErrTooSmall, w, h)
	}
	return nil
}

func checkBits(bits []uint8) error {
	if len(bits) == 0 {
		return fmt.Errorf("%w: empty payload", ErrBits)
	}
	for i, b := range bits {
		if b > 1 {
			return fmt.Errorf("%w: bit %d is %d, want 0 or 1", ErrBits, i, b)
		}
	}
	return nil
}

// Encode returns img marked with bits by method m, pixel for pixel what
// invisible-watermark 0.2.0's WatermarkEncoder().encode(bgr, m) returns
// for the same 8-bit picture (set_watermark('bits', bits)). Each bit is a
// 0 or a 1; the payload repeats over the picture's blocks. Alpha is
// dropped, as cv2 reads colour pictures; the result is opaque.
//
// The library keeps the picture's last rows and columns beyond a multiple
// of 4 out of the transform, and, a quirk kept here, passes the
// horizontal and vertical Haar details back swapped, so it changes most
// pixels of the picture, not just the marked blocks.
func Encode(img image.Image, bits []uint8, m Method) (*image.NRGBA, error) {
	r, err := ruleFor(m)
	if err != nil {
		return nil, err
	}
	if err := checkBits(bits); err != nil {
		return nil, err
	}
	src := toNRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	n := w * h
	y, u, v := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for i := 0; i < n; i++ {
		p := src.Pix[4*i:][:3]
		y[i], u[i], v[i] = bgrToYUV8(p[0], p[1], p[2])
	}

	w4, h4 := w/4*4, h/4*4
	plane := make([]float64, w4*h4)
	for row := 0; row < h4; row++ {
		for col, px := range u[row*w:][:w4] {
			plane[row*w4+col] = float64(px)
		}
	}
	markPlane(plane, w4, h4, bits, r)
	for row := 0; row < h4; row++ {
		for col, f := range plane[row*w4:][:w4] {
			u[row*w+col] = castUint8(f)
		}
	}

	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < n; i++ {
		p := out.Pix[4*i:][:4]
		p[0], p[1], p[2] = yuvToBGR8(y[i], u[i], v[i])
		p[3] = 255
	}
	return out, nil
}

// markPlane marks the w4 x h4 plane in place: Haar transform, the rule's
// embedding in each 4x4 block of the approximation, inverse transform
// with the details swapped.
func markPlane[T float](plane []T, w4, h4 int, bits []uint8, r rule) {
	var sb subbands[T]
	dwt2(plane, h4, w4, &sb)
	var blk [16]float64
	num := 0
	forEachBlock(sb.w, sb.h, func(idx *[16]int) {
		for k, i := range idx {
			blk[k] = float64(sb.ca[i])
		}
		r.embed(&blk, bits[num%len(bits)])
		for k, i := range idx {
			sb.ca[i] = T(blk[k])
		}
		num++
	})
	sb.ch, sb.cv = sb.cv, sb.ch // the library's idwt2((ca1, (v1, h1, d1)))
	idwt2(&sb, plane)
}

// forEachBlock calls f with the indices of each whole 4x4 block of the
// w x h plane (stride w), blocks in row-major order as the library scans
// them; rows and columns past the last whole block are left out.
func forEachBlock(w, h int, f func(idx *[16]int)) {
	var idx [16]int
	for bi := 0; bi < h/blockSize; bi++ {
		for bj := 0; bj < w/blockSize; bj++ {
			for r := 0; r < blockSize; r++ {
				for c := 0; c < blockSize; c++ {
					idx[r*blockSize+c] = (bi*blockSize+r)*w + bj*blockSize + c
				}
			}
			f(&idx)
		}
	}
}

// castUint8 converts as numpy's float64-to-uint8 assignment does on x86:
// truncation toward zero to an integer, then its low byte, so -1.5
// becomes 255 and 256.5 becomes 0 (numpy warns, but writes these).
func castUint8(f float64) uint8 {
	if f != f || f >= 1<<31 || f <= -(1<<31) {
		return 0 // the x86 conversion's "integer indefinite", 0x80000000
	}
	return uint8(int32(f))
}

// Decode reads n bits marked by method m from img, exactly what
// invisible-watermark 0.2.0's WatermarkDecoder('bits', n).decode(bgr, m)
// returns for the same 8-bit picture, including its misreadings: each
// block votes for bit (block number mod n), and a bit is 1 when more
// than 127/255 of its votes are 1. A bit no block votes for reads 0.
func Decode(img image.Image, n int, m Method) ([]uint8, error) {
	r, err := ruleFor(m)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > MaxBits {
		return nil, fmt.Errorf("%w: %d bits asked for, want 1 to %d", ErrBits, n, MaxBits)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	// Only the blocks' share of the approximation is needed: ca is
	// (h/4*2) x (w/4*2) and its whole blocks cover 8 pixels per block.
	cw, ch := (w/4*2)/blockSize*blockSize, (h/4*2)/blockSize*blockSize
	ca := approxOfU(img, cw, ch)
	ones, votes := make([]int, n), make([]int, n)
	var blk [16]float64
	num := 0
	forEachBlock(cw, ch, func(idx *[16]int) {
		for k, i := range idx {
			blk[k] = ca[i]
		}
		ones[num%n] += int(r.infer(&blk))
		votes[num%n]++
		num++
	})
	bits := make([]uint8, n)
	for i := range bits {
		// np.array(scores).mean() * 255 > 127, with an empty mean (NaN)
		// reading as 0.
		if votes[i] > 0 && float64(ones[i])/float64(votes[i])*255 > 127 {
			bits[i] = 1
		}
	}
	return bits, nil
}

// approxOfU returns the top-left cw x ch of the Haar approximation of
// img's U plane (cv2.cvtColor(bgr, COLOR_BGR2YUV)[..., 1]), computed as
// dwt2 computes it, without the detail planes the decoder does not read.
func approxOfU(img image.Image, cw, ch int) []float64 {
	var pix []uint8
	var stride int
	switch m := img.(type) {
	case *image.NRGBA:
		pix, stride = m.Pix, m.Stride
	case *image.RGBA:
		if m.Opaque() { // premultiplied equals straight alpha
			pix, stride = m.Pix, m.Stride
		}
	}
	if pix == nil {
		m := toNRGBA(img)
		pix, stride = m.Pix, m.Stride
	}
	s := haarTap[float64]()
	w := 2 * cw
	u0, u1, la := make([]float64, w), make([]float64, w), make([]float64, w)
	ca := make([]float64, cw*ch)
	for i := 0; i < ch; i++ {
		for r, u := range [2][]float64{u0, u1} {
			line := pix[(2*i+r)*stride:]
			for col := range u {
				p := line[4*col:][:3]
				u[col] = float64(uOfRGB8(p[0], p[1], p[2]))
			}
		}
		for c := range la {
			la[c], _ = haarPair(s, u0[c], u1[c])
		}
		out := ca[i*cw:][:cw]
		for j := range out {
			out[j], _ = haarPair(s, la[2*j], la[2*j+1])
		}
	}
	return ca
}

// toNRGBA returns img as an NRGBA picture whose origin is (0, 0) and
// whose rows are packed (stride 4*width), copying when it is not one
// already. Colours are taken straight (not premultiplied), as cv2 reads
// a picture's colour channels and ignores its alpha; 16-bit channels
// keep their high byte.
func toNRGBA(img image.Image) *image.NRGBA {
	if m, ok := img.(*image.NRGBA); ok && m.Rect.Min == (image.Point{}) && m.Stride == 4*m.Rect.Dx() {
		return m
	}
	b := img.Bounds()
	m := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.NRGBA:
		for row := 0; row < b.Dy(); row++ {
			copy(m.Pix[row*m.Stride:][:4*b.Dx()], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+row):])
		}
		return m
	case *image.RGBA:
		if src.Opaque() {
			for row := 0; row < b.Dy(); row++ {
				copy(m.Pix[row*m.Stride:][:4*b.Dx()], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+row):])
			}
			return m
		}
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}
