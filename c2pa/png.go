package c2pa

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// A PNG carries its manifest store in one caBX chunk, which c2pa-rs puts
// right after IHDR (so before IDAT); the data hash excludes that whole
// chunk, length and CRC included.

const pngSignature = "\x89PNG\r\n\x1a\n"

// pngChunk is one chunk's place in the file: start is the offset of its
// length field, end the offset after its CRC.
type pngChunk struct {
	typ        string
	start, end int
	data       []byte
}

// pngChunks checks the PNG's chunk structure (lengths, CRCs, IHDR first,
// IDAT present, IEND last) and returns its chunks.
func pngChunks(data []byte) ([]pngChunk, error) {
	if !bytes.HasPrefix(data, []byte(pngSignature)) {
		return nil, formatErr("png", "no PNG signature")
	}
	var chunks []pngChunk
	hasIDAT := false
	for off := len(pngSignature); ; {
		if off == len(data) {
			return nil, formatErr("png", "truncated: no IEND chunk after %d bytes", len(data))
		}
		if len(data)-off < 12 {
			return nil, formatErr("png", "truncated chunk header at offset %d", off)
		}
		n := binary.BigEndian.Uint32(data[off:])
		if n > 1<<31-1 || uint64(len(data)-off-12) < uint64(n) {
			return nil, formatErr("png", "truncated: chunk at offset %d declares %d bytes, %d left", off, n, len(data)-off-12)
		}
		typ := string(data[off+4 : off+8])
		end := off + 12 + int(n)
		body := data[off+8 : end-4]
		if crc32.ChecksumIEEE(data[off+4:end-4]) != binary.BigEndian.Uint32(data[end-4:]) {
			return nil, formatErr("png", "bad CRC in %q chunk at offset %d", typ, off)
		}
		if len(chunks) == 0 && typ != "IHDR" {
			return nil, formatErr("png", "first chunk is %q, not IHDR", typ)
		}
		hasIDAT = hasIDAT || typ == "IDAT"
		chunks = append(chunks, pngChunk{typ: typ, start: off, end: end, data: body})
		off = end
		if typ == "IEND" {
			if !hasIDAT {
				return nil, formatErr("png", "no IDAT chunk")
			}
			if off != len(data) {
				return nil, formatErr("png", "%d bytes after IEND", len(data)-off)
			}
			return chunks, nil
		}
	}
}

// pngFindStore returns the manifest store in data's caBX chunk and the
// chunk's byte range.
func pngFindStore(data []byte) (store []byte, where span, err error) {
	chunks, err := pngChunks(data)
	if err != nil {
		return nil, span{}, err
	}
	for _, c := range chunks {
		if c.typ == "caBX" {
			return c.data, span{Start: c.start, Length: c.end - c.start}, nil
		}
	}
	return nil, span{}, ErrNoManifest
}

// pngEmbed returns data with any caBX chunk removed and store placed in a
// new caBX chunk after IHDR, and the new chunk's byte range.
func pngEmbed(data, store []byte) ([]byte, span, error) {
	chunks, err := pngChunks(data)
	if err != nil {
		return nil, span{}, err
	}
	out := make([]byte, 0, len(data)+len(store)+12)
	out = append(out, pngSignature...)
	var where span
	for _, c := range chunks {
		if c.typ == "caBX" {
			continue
		}
		out = append(out, data[c.start:c.end]...)
		if c.typ == "IHDR" {
			where.Start = len(out)
			out = appendPNGChunk(out, "caBX", store)
			where.Length = len(out) - where.Start
		}
	}
	return out, where, nil
}

func appendPNGChunk(dst []byte, typ string, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	start := len(dst)
	dst = append(dst, typ...)
	dst = append(dst, body...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}
