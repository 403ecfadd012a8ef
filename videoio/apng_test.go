package videoio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/png"
	"io"
	"testing"
)

// decodedAPNG is what readAPNG finds in a file.
type decodedAPNG struct {
	w, h, plays int
	frames      [][]byte // rgb24 rows per frame
	delays      [][2]uint16
}

// readAPNG is an independent reader for the subset EncodeAPNG writes
// (8-bit RGB, full-canvas frames): it checks every CRC, the sequence
// numbers, the frame count in acTL, and unfilters all five PNG filters.
func readAPNG(b []byte) (*decodedAPNG, error) {
	if !bytes.HasPrefix(b, []byte(pngSignature)) {
		return nil, fmt.Errorf("no PNG signature")
	}
	b = b[len(pngSignature):]
	d := &decodedAPNG{}
	var numFrames int
	var nextSeq uint32
	var data []byte // compressed data of the frame being read
	flush := func() error {
		if data == nil {
			return nil
		}
		rgb, err := unfilter(data, d.w, d.h)
		if err != nil {
			return err
		}
		d.frames = append(d.frames, rgb)
		data = nil
		return nil
	}
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, fmt.Errorf("truncated chunk")
		}
		n := int(binary.BigEndian.Uint32(b))
		if len(b) < 12+n {
			return nil, fmt.Errorf("truncated chunk body")
		}
		typ, body := string(b[4:8]), b[8:8+n]
		if got, want := binary.BigEndian.Uint32(b[8+n:]), crc32.ChecksumIEEE(b[4:8+n]); got != want {
			return nil, fmt.Errorf("%s: crc %08x, want %08x", typ, got, want)
		}
		b = b[12+n:]
		checkSeq := func() error {
			if s := binary.BigEndian.Uint32(body); s != nextSeq {
				return fmt.Errorf("%s: sequence %d, want %d", typ, s, nextSeq)
			}
			nextSeq++
			return nil
		}
		switch typ {
		case "IHDR":
			d.w, d.h = int(binary.BigEndian.Uint32(body)), int(binary.BigEndian.Uint32(body[4:]))
			if body[8] != 8 || body[9] != 2 || body[12] != 0 {
				return nil, fmt.Errorf("IHDR: depth %d colour %d interlace %d, want 8 2 0", body[8], body[9], body[12])
			}
		case "acTL":
			numFrames, d.plays = int(binary.BigEndian.Uint32(body)), int(binary.BigEndian.Uint32(body[4:]))
		case "fcTL":
			if err := flush(); err != nil {
				return nil, err
			}
			if err := checkSeq(); err != nil {
				return nil, err
			}
			if fw, fh := int(binary.BigEndian.Uint32(body[4:])), int(binary.BigEndian.Uint32(body[8:])); fw != d.w || fh != d.h {
				return nil, fmt.Errorf("fcTL: frame %dx%d, want full canvas %dx%d", fw, fh, d.w, d.h)
			}
			d.delays = append(d.delays, [2]uint16{binary.BigEndian.Uint16(body[20:]), binary.BigEndian.Uint16(body[22:])})
			data = []byte{}
		case "IDAT":
			data = append(data, body...)
		case "fdAT":
			if err := checkSeq(); err != nil {
				return nil, err
			}
			data = append(data, body[4:]...)
		case "IEND":
			if err := flush(); err != nil {
				return nil, err
			}
			if len(d.frames) != numFrames {
				return nil, fmt.Errorf("acTL says %d frames, found %d", numFrames, len(d.frames))
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("no IEND")
}

func unfilter(z []byte, w, h int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	stride := 3 * w
	if len(raw) != h*(1+stride) {
		return nil, fmt.Errorf("inflated %d bytes, want %d", len(raw), h*(1+stride))
	}
	out := make([]byte, h*stride)
	for y := range h {
		f, src := raw[y*(1+stride)], raw[y*(1+stride)+1:(y+1)*(1+stride)]
		cur := out[y*stride : (y+1)*stride]
		for x := range stride {
			var a, up, c int
			if x >= 3 {
				a = int(cur[x-3])
			}
			if y > 0 {
				up = int(out[(y-1)*stride+x])
				if x >= 3 {
					c = int(out[(y-1)*stride+x-3])
				}
			}
			var pred int
			switch f {
			case 0:
			case 1:
				pred = a
			case 2:
				pred = up
			case 3:
				pred = (a + up) / 2
			case 4:
				p := a + up - c
				pa, pb, pc := abs(p-a), abs(p-up), abs(p-c)
				switch {
				case pa <= pb && pa <= pc:
					pred = a
				case pb <= pc:
					pred = up
				default:
					pred = c
				}
			default:
				return nil, fmt.Errorf("row %d: filter %d", y, f)
			}
			cur[x] = src[x] + byte(pred)
		}
	}
	return out, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestAPNGRoundTrip(t *testing.T) {
	c := testClip(7, 12, 20)
	c.FPS = 8
	var buf bytes.Buffer
	if err := EncodeAPNG(&buf, c); err != nil {
		t.Fatal(err)
	}
	d, err := readAPNG(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d.w != 20 || d.h != 12 || d.plays != 0 || len(d.frames) != 7 {
		t.Fatalf("got %dx%d plays %d frames %d, want 20x12 plays 0 frames 7", d.w, d.h, d.plays, len(d.frames))
	}
	want := bytesOf(c)
	for i, f := range d.frames {
		if d.delays[i] != [2]uint16{1, 8} {
			t.Errorf("frame %d delay %v, want 1/8", i, d.delays[i])
		}
		if !bytes.Equal(f, want[i*len(f):(i+1)*len(f)]) {
			t.Errorf("frame %d pixels differ", i)
		}
	}
	// A viewer without APNG support sees frame 0 as a plain PNG.
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("image/png: %v", err)
	}
	if r, g, b, _ := img.At(0, 0).RGBA(); uint8(r>>8) != want[0] || uint8(g>>8) != want[1] || uint8(b>>8) != want[2] {
		t.Errorf("image/png pixel (0,0): got %d %d %d, want %v", r>>8, g>>8, b>>8, want[:3])
	}
}

func TestAPNGDelay(t *testing.T) {
	for _, tc := range []struct {
		fps      float64
		num, den uint16
	}{{8, 1, 8}, {24, 1, 24}, {29.97, 33, 1000}, {0.5, 2000, 1000}, {0.01, 100, 1}} {
		if n, d := APNGDelay(tc.fps); n != tc.num || d != tc.den {
			t.Errorf("APNGDelay(%v) = %d/%d, want %d/%d", tc.fps, n, d, tc.num, tc.den)
		}
	}
}

func FuzzReadAPNGOfEncoded(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(5), uint8(7))
	f.Fuzz(func(t *testing.T, nf, h, w, seed uint8) {
		c := Clip{F: int(nf%5) + 1, H: int(h%9) + 1, W: int(w%9) + 1, FPS: 8}
		c.Frames = make([]float32, c.F*c.H*c.W*3)
		for i := range c.Frames {
			c.Frames[i] = float32((i*int(seed+1))%256) / 255
		}
		var buf bytes.Buffer
		if err := EncodeAPNG(&buf, c); err != nil {
			t.Fatal(err)
		}
		d, err := readAPNG(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bytes.Join(d.frames, nil), bytesOf(c)) {
			t.Fatal("pixels differ")
		}
	})
}
