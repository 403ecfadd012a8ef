package watermark

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"testing"
)

// testPicture returns a w x h picture with smooth colour waves and some
// texture, the kind of content the mark is meant for.
func testPicture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(128 + 90*math.Sin(fx/37+fy/53)),
				G: uint8(128 + 90*math.Cos(fx/29-fy/41)),
				B: uint8(128 + 60*math.Sin(fx*fy/9000) + float64((x*7+y*13)%17)),
				A: 255,
			})
		}
	}
	return img
}

func TestSDXLBits(t *testing.T) {
	got := SDXLBits()
	want, err := ParseHex("b3ec907bb19e")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 48 || FormatHex(got) != "b3ec907bb19e" {
		t.Fatalf("got %d bits %s, want 48 bits b3ec907bb19e", len(got), FormatHex(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bit %d: got %d, want %d", i, got[i], want[i])
		}
	}
}

func TestParseHex(t *testing.T) {
	tests := []struct {
		in      string
		want    string // bits as 0/1 characters
		wantErr bool
	}{
		{"a", "1010", false},
		{"0x0F", "00001111", false},
		{"B3", "10110011", false},
		{"", "", true},
		{"0x", "", true},
		{"12g4", "", true},
		{"b3 ec", "", true},
		{"-1", "", true},
	}
	for _, tt := range tests {
		got, err := ParseHex(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBits) {
				t.Errorf("ParseHex(%q): got %v, %v; want ErrBits", tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHex(%q): %v", tt.in, err)
			continue
		}
		s := make([]byte, len(got))
		for i, b := range got {
			s[i] = '0' + b
		}
		if string(s) != tt.want {
			t.Errorf("ParseHex(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	want := SDXLBits()
	got := append([]uint8(nil), want...)
	c, err := Compare(got, want)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Match() || c.BitAccuracy != 1 || math.Abs(c.PValue-math.Pow(2, -48)) > 1e-12*math.Pow(2, -48) {
		t.Errorf("all bits: got %+v, want match, accuracy 1, p = 2^-48", c)
	}
	got[0] ^= 1
	got[1] ^= 1
	c, _ = Compare(got, want)
	// P(X >= 46), X ~ Bin(48, 1/2) = (1 + 48 + 1128) / 2^48.
	if p := 1177 * math.Pow(2, -48); c.Match() || c.Matching != 46 || math.Abs(c.PValue-p) > 1e-12*p {
		t.Errorf("two flipped: got %+v, want 46 matching, p = %g", c, p)
	}
	half := []uint8{1, 0, 1, 0}
	c, _ = Compare(half, []uint8{1, 0, 0, 1})
	if c.PValue != 11.0/16 {
		t.Errorf("2 of 4: p = %g, want 11/16", c.PValue)
	}
	if _, err := Compare(got[:3], want); !errors.Is(err, ErrBits) {
		t.Errorf("length mismatch: got %v, want ErrBits", err)
	}
}

func TestErrors(t *testing.T) {
	big := testPicture(256, 256)
	small := testPicture(255, 256)
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"encode too small", func() error { _, err := Encode(small, SDXLBits(), DwtDct); return err }, ErrTooSmall},
		{"decode too small", func() error { _, err := Decode(small, 48, DwtDct); return err }, ErrTooSmall},
		{"side under 4", func() error { _, err := Decode(testPicture(21846, 3), 8, DwtDct); return err }, ErrTooSmall},
		{"encode unknown method", func() error { _, err := Encode(big, SDXLBits(), "rivaGan"); return err }, ErrUnknownMethod},
		{"decode unknown method", func() error { _, err := Decode(big, 48, "dwtdct"); return err }, ErrUnknownMethod},
		{"parse unknown method", func() error { _, err := ParseMethod("DWT"); return err }, ErrUnknownMethod},
		{"no bits", func() error { _, err := Encode(big, nil, DwtDct); return err }, ErrBits},
		{"bit 2", func() error { _, err := Encode(big, []uint8{1, 2}, DwtDct); return err }, ErrBits},
		{"decode 0 bits", func() error { _, err := Decode(big, 0, DwtDct); return err }, ErrBits},
		{"sdxl shape", func() error { return ApplySDXL(make([]float32, 12), []int{1, 4, 1, 3}) }, ErrShape},
		{"sdxl length", func() error { return ApplySDXL(make([]float32, 11), []int{1, 3, 1, 4}) }, ErrShape},
		{"sdxl narrow but tall is refused", func() error {
			return ApplySDXL(make([]float32, 3*300*200), []int{1, 3, 200, 300})
		}, ErrTooSmall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSizeByArea checks the library's rule: it refuses by area, so a
// picture under 256 rows but of 256*256 pixels or more is marked.
func TestSizeByArea(t *testing.T) {
	img := testPicture(520, 130)
	marked, err := Encode(img, []uint8{1, 0, 1}, DwtDct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(marked, 3, DwtDct); err != nil {
		t.Fatal(err)
	}
}

func TestApplySDXLLeavesNarrowPictures(t *testing.T) {
	x := make([]float32, 3*300*255)
	for i := range x {
		x[i] = float32(i%7)/3 - 1
	}
	before := append([]float32(nil), x...)
	if err := ApplySDXL(x, []int{1, 3, 300, 255}); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if x[i] != before[i] {
			t.Fatalf("value %d changed from %g to %g; diffusers leaves pictures under 256 wide alone", i, before[i], x[i])
		}
	}
}

func TestApplySDXLBatch(t *testing.T) {
	const w, h = 256, 256
	pic := testPicture(w, h)
	one := make([]float32, 3*w*h)
	for i := 0; i < w*h; i++ {
		for c := 0; c < 3; c++ {
			one[c*w*h+i] = float32(pic.Pix[4*i+c])/127.5 - 1
		}
	}
	two := append(append([]float32(nil), one...), one...)
	if err := ApplySDXL(one, []int{1, 3, h, w}); err != nil {
		t.Fatal(err)
	}
	if err := ApplySDXL(two, []int{2, 3, h, w}); err != nil {
		t.Fatal(err)
	}
	for i, v := range one {
		if two[i] != v || two[len(one)+i] != v {
			t.Fatalf("value %d: batch of two gives %g and %g, alone %g", i, two[i], two[len(one)+i], v)
		}
		if v < -1 || v > 1 {
			t.Fatalf("value %d is %g, outside [-1, 1]", i, v)
		}
	}
}

// TestSubImage checks that a picture whose bounds do not start at (0, 0)
// reads as its own pixels.
func TestSubImage(t *testing.T) {
	full := testPicture(300, 300)
	sub := full.SubImage(image.Rect(20, 30, 300, 300)).(*image.NRGBA)
	copied := toNRGBA(sub)
	a, err := Decode(sub, 48, DwtDct)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(copied, 48, DwtDct)
	if err != nil {
		t.Fatal(err)
	}
	if FormatHex(a) != FormatHex(b) {
		t.Errorf("sub-image decodes %s, its copy %s", FormatHex(a), FormatHex(b))
	}
	// At the origin but with the parent's row stride.
	corner := full.SubImage(image.Rect(0, 0, 280, 270)).(*image.NRGBA)
	got, err := Encode(corner, SDXLBits(), DwtDct)
	if err != nil {
		t.Fatal(err)
	}
	packed := image.NewNRGBA(image.Rect(0, 0, 280, 270))
	draw.Draw(packed, packed.Rect, full, image.Point{}, draw.Src)
	want, err := Encode(packed, SDXLBits(), DwtDct)
	if err != nil {
		t.Fatal(err)
	}
	if exact, total, _ := agreement(got, want, 0); exact != total {
		t.Errorf("corner sub-image: %d of %d pixels as for its copy", exact, total)
	}
}

func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"b3ec907bb19e", "0x0", "0XfF", "", "zz", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bits, err := ParseHex(s)
		if err != nil {
			if !errors.Is(err, ErrBits) {
				t.Fatalf("ParseHex(%q): error %v is not ErrBits", s, err)
			}
			return
		}
		if len(bits) == 0 || len(bits)%4 != 0 {
			t.Fatalf("ParseHex(%q): %d bits", s, len(bits))
		}
		again, err := ParseHex(FormatHex(bits))
		if err != nil || FormatHex(again) != FormatHex(bits) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}

// FuzzCodec runs Encode and Decode on pictures of any size and content
// (dimensions from the first bytes, pixels from the rest, repeated), for
// panics and wrong-length results.
func FuzzCodec(f *testing.F) {
	f.Add(uint16(256), uint16(256), uint8(48), []byte{1, 2, 3})
	f.Add(uint16(5), uint16(13108), uint8(7), []byte{255, 0})
	f.Add(uint16(300), uint16(200), uint8(1), []byte{})
	f.Fuzz(func(t *testing.T, w, h uint16, n uint8, data []byte) {
		if int(w)*int(h) > 1<<19 {
			return // keep each run small
		}
		img := image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
		for i := range img.Pix {
			if len(data) > 0 {
				img.Pix[i] = data[i%len(data)] + uint8(i/len(data))
			}
		}
		bits := make([]uint8, int(n)+1)
		for i := range bits {
			bits[i] = uint8(i*7/3) & 1
		}
		for _, m := range Methods {
			marked, err := Encode(img, bits, m)
			if err != nil {
				if !errors.Is(err, ErrTooSmall) {
					t.Fatalf("Encode %dx%d: %v", w, h, err)
				}
				continue
			}
			if marked.Rect != img.Rect {
				t.Fatalf("Encode %dx%d gave %v", w, h, marked.Rect)
			}
			got, err := Decode(marked, len(bits), m)
			if err != nil || len(got) != len(bits) {
				t.Fatalf("Decode %dx%d: %d bits, %v", w, h, len(got), err)
			}
		}
	})
}

func BenchmarkDecode1080p(b *testing.B) {
	marked, err := Encode(testPicture(1920, 1080), SDXLBits(), DwtDct)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(marked, 48, DwtDct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePNG1080p times what `imagegen watermark detect` does
// after reading the file: PNG decoding and Decode.
func BenchmarkDecodePNG1080p(b *testing.B) {
	marked, err := Encode(testPicture(1920, 1080), SDXLBits(), DwtDct)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, marked); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := png.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(img, 48, DwtDct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode1080p(b *testing.B) {
	pic := testPicture(1920, 1080)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Encode(pic, SDXLBits(), DwtDct); err != nil {
			b.Fatal(err)
		}
	}
}
