package videoio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// APNGDelay returns the frame delay an APNG stores for fps as the fraction
// num/den seconds: exactly 1/fps for a whole fps up to 65535, else
// round(1000/fps)/1000 (1 ms resolution), clamped to the 16-bit fields.
func APNGDelay(fps float64) (num, den uint16) {
	if fps == math.Trunc(fps) && fps >= 1 && fps <= math.MaxUint16 {
		return 1, uint16(fps)
	}
	if ms := math.Round(1000 / fps); ms <= math.MaxUint16 {
		return uint16(max(ms, 1)), 1000
	}
	return uint16(min(math.Round(1/fps), math.MaxUint16)), 1
}

// EncodeAPNG writes c as an animated PNG (8-bit RGB) that loops forever.
// The first frame is also the default image, so a viewer without APNG
// support shows it as a still PNG. Every frame covers the whole canvas
// (dispose none, blend source).
func EncodeAPNG(w io.Writer, c Clip) error {
	if err := c.validate(true); err != nil {
		return err
	}
	e := &apngWriter{w: w}
	e.write([]byte(pngSignature))
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(c.W))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(c.H))
	ihdr[8], ihdr[9] = 8, 2 // bit depth 8, colour type 2 (RGB); compression, filter, interlace 0
	e.chunk("IHDR", ihdr[:])
	var actl [8]byte
	binary.BigEndian.PutUint32(actl[0:], uint32(c.F))
	binary.BigEndian.PutUint32(actl[4:], 0) // plays: 0 = forever
	e.chunk("acTL", actl[:])
	num, den := APNGDelay(c.FPS)
	var seq uint32
	rgb := make([]byte, 0, c.H*c.W*3)
	for i := range c.F {
		var fctl [26]byte
		binary.BigEndian.PutUint32(fctl[0:], seq)
		binary.BigEndian.PutUint32(fctl[4:], uint32(c.W))
		binary.BigEndian.PutUint32(fctl[8:], uint32(c.H))
		// x, y offsets stay 0.
		binary.BigEndian.PutUint16(fctl[20:], num)
		binary.BigEndian.PutUint16(fctl[22:], den)
		// dispose_op 0 (none), blend_op 0 (source).
		e.chunk("fcTL", fctl[:])
		seq++
		rgb = c.rgb24(i, rgb)
		data, err := deflateScanlines(rgb, c.W, c.H)
		if err != nil {
			return err
		}
		if i == 0 {
			e.chunk("IDAT", data)
			continue
		}
		fdat := make([]byte, 4, 4+len(data))
		binary.BigEndian.PutUint32(fdat, seq)
		e.chunk("fdAT", append(fdat, data...))
		seq++
	}
	e.chunk("IEND", nil)
	if e.err != nil {
		return fmt.Errorf("videoio: write apng: %w", e.err)
	}
	return nil
}

// apngWriter keeps the first write error, so EncodeAPNG reads as a flat
// list of chunks.
type apngWriter struct {
	w   io.Writer
	err error
}

func (e *apngWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// chunk writes one PNG chunk: length, type, data, CRC-32 of type and data.
func (e *apngWriter) chunk(typ string, data []byte) {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(data)))
	copy(head[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(head[4:])
	crc.Write(data)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	e.write(head[:])
	e.write(data)
	e.write(tail[:])
}

// deflateScanlines zlib-compresses the image rows, each with PNG filter 1
// (Sub: each byte minus the one a pixel to its left), which turns flat
// runs into zeros.
func deflateScanlines(rgb []byte, w, h int) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	row := make([]byte, 1+3*w)
	for y := range h {
		src := rgb[y*3*w : (y+1)*3*w]
		row[0] = 1
		for x := range 3 * w {
			left := byte(0)
			if x >= 3 {
				left = src[x-3]
			}
			row[1+x] = src[x] - left
		}
		if _, err := zw.Write(row); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
