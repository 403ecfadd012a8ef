package rng

// Constants of the 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998).
const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// mt19937 is the Mersenne Twister state as ATen keeps it: left counts down
// to the next regeneration of the whole state, next indexes the word to
// temper.
type mt19937 struct {
	state [mtN]uint32
	left  int
	next  int
}

// seed initialises the state from the low 32 bits of seed, as ATen's
// mt19937 constructor does; the high bits are dropped.
func (m *mt19937) seed(seed uint64) {
	m.state[0] = uint32(seed)
	for j := 1; j < mtN; j++ {
		prev := m.state[j-1]
		m.state[j] = 1812433253*(prev^(prev>>30)) + uint32(j)
	}
	// left = 1 makes the first draw regenerate the state, like ATen.
	m.left = 1
	m.next = 0
}

// twist combines the upper bit of u with the lower bits of v.
func twist(u, v uint32) uint32 {
	y := (u&mtUpperMask | v&mtLowerMask) >> 1
	if v&1 != 0 {
		y ^= mtMatrixA
	}
	return y
}

// regenerate computes the next 624 words of state in place.
func (m *mt19937) regenerate() {
	s := &m.state
	for i := 0; i < mtN-mtM; i++ {
		s[i] = s[i+mtM] ^ twist(s[i], s[i+1])
	}
	for i := mtN - mtM; i < mtN-1; i++ {
		s[i] = s[i+mtM-mtN] ^ twist(s[i], s[i+1])
	}
	s[mtN-1] = s[mtM-1] ^ twist(s[mtN-1], s[0])
	m.left = mtN
	m.next = 0
}

// uint32 returns the next tempered 32-bit output.
func (m *mt19937) uint32() uint32 {
	m.left--
	if m.left == 0 {
		m.regenerate()
	}
	y := m.state[m.next]
	m.next++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}
