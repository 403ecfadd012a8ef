package lossweight

import "testing"

func TestOutline(t *testing.T) {
	const size, boost = 6, 4
	pix := make([]uint8, 4*size*size)
	for i := range size * size {
		copy(pix[4*i:], []uint8{20, 20, 200, 255})
	}
	for y := 2; y < 4; y++ {
		for x := 2; x < 4; x++ {
			copy(pix[4*(y*size+x):], []uint8{250, 20, 200, 255})
		}
	}
	got := make([]float32, size*size)
	Outline(pix, 4*size, size, boost, got)
	for y := range size {
		for x := range size {
			want := float32(1)
			if x >= 1 && x <= 4 && y >= 1 && y <= 4 {
				want += boost
			}
			if got[y*size+x] != want {
				t.Errorf("pixel (%d,%d): weight %g, want %g", x, y, got[y*size+x], want)
			}
		}
	}
	// A change of 8 levels or less is not an edge (antialiasing noise).
	copy(pix[0:], []uint8{28, 12, 200, 255})
	Outline(pix, 4*size, size, boost, got)
	if got[0] != 1 || got[1] != 1 {
		t.Errorf("weights next to a change of 8 levels: %g %g, want 1", got[0], got[1])
	}
}
