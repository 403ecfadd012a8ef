package tokenizer

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is SentencePiece's compiled normalization rules
// (precompiled_charsmap, e.g. nmt_nfkc): a darts-clone double-array trie
// over UTF-8 keys whose values point into a pool of NUL-terminated
// replacement strings.
type precompiled struct {
	units []uint32
	pool  []byte
}

// parsePrecompiled reads the blob: a little-endian uint32 trie size in
// bytes, the trie units, then the replacement pool.
func parsePrecompiled(file string, blob []byte) (*precompiled, error) {
	if len(blob) < 4 {
		return nil, formatErr(file, "precompiled_charsmap is %d bytes, too short for its header", len(blob))
	}
	size := int(binary.LittleEndian.Uint32(blob))
	if size%4 != 0 || size > len(blob)-4 {
		return nil, formatErr(file, "precompiled_charsmap trie size %d does not fit its %d bytes", size, len(blob))
	}
	p := &precompiled{units: make([]uint32, size/4), pool: blob[4+size:]}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	return p, nil
}

// Bit layout of a darts-clone unit.
func dartsHasLeaf(u uint32) bool  { return u>>8&1 == 1 }
func dartsValue(u uint32) int     { return int(u & (1<<31 - 1)) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// transform returns the replacement for the shortest trie key that is a
// prefix of chunk. The whole chunk is replaced by it, even when the key is
// shorter than the chunk: that is what tokenizers' Precompiled normalizer
// does, and ids must match it.
func (p *precompiled) transform(chunk string) (string, bool) {
	if len(p.units) == 0 {
		return "", false
	}
	pos := dartsOffset(p.units[0])
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			return "", false
		}
		pos ^= uint32(c)
		if int(pos) >= len(p.units) {
			return "", false
		}
		u := p.units[pos]
		if dartsLabel(u) != uint32(c) {
			return "", false
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if int(pos) >= len(p.units) {
				return "", false
			}
			v := dartsValue(p.units[pos])
			if v >= len(p.pool) {
				return "", false
			}
			rest := p.pool[v:]
			if end := bytes.IndexByte(rest, 0); end >= 0 {
				rest = rest[:end]
			}
			if !utf8.Valid(rest) {
				return "", false
			}
			return string(rest), true
		}
	}
	return "", false
}

// normalize applies the rules grapheme by grapheme: a short grapheme is
// looked up whole, otherwise (or when it has no rule) each character is.
func (p *precompiled) normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	state := -1
	for rest := s; rest != ""; {
		var g string
		g, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if len(g) < 6 {
			if norm, ok := p.transform(g); ok {
				b.WriteString(norm)
				continue
			}
		}
		for i, r := range g {
			c := g[i : i+utf8.RuneLen(r)]
			if norm, ok := p.transform(c); ok {
				b.WriteString(norm)
			} else {
				b.WriteString(c)
			}
		}
	}
	return b.String()
}
