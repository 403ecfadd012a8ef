package c2pa

import (
	"bytes"
	"encoding/binary"
	"sort"
)

// A JPEG carries its manifest store in APP11 segments (ISO/IEC 19566-5
// JPEG-1 embedding): each starts with CI "JP", a box instance number En and
// a packet sequence number Z from 1; the first holds the start of the JUMBF
// superbox, and every later one repeats the superbox's 8-byte header before
// its next piece. The data hash excludes the run of segments, markers
// included. c2pa-rs writes them after the last APP0 (JFIF), else right
// after SOI.

const (
	markerSOI   = 0xd8
	markerEOI   = 0xd9
	markerSOS   = 0xda
	markerAPP0  = 0xe0
	markerAPP11 = 0xeb
	// jpegMaxPiece is the store bytes each APP11 segment carries, leaving
	// room under the 65535-byte segment limit for the headers.
	jpegMaxPiece = 65000
	// c2paInstance is the En field c2pa-rs writes.
	c2paInstance = 0x0211
)

// jpegSegment is one marker segment before SOS: start is the offset of
// its 0xFF marker, end the offset after its payload.
type jpegSegment struct {
	marker     byte
	start, end int
	payload    []byte
}

// jpegSegments checks data's marker structure up to the scan and that the
// file ends with EOI, and returns the header segments; sos is the offset
// of the SOS marker.
func jpegSegments(data []byte) (segs []jpegSegment, sos int, err error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != markerSOI {
		return nil, 0, formatErr("jpeg", "no SOI marker")
	}
	off := 2
	for {
		if len(data)-off < 4 {
			return nil, 0, formatErr("jpeg", "truncated: no image scan after %d bytes", len(data))
		}
		if data[off] != 0xff {
			return nil, 0, formatErr("jpeg", "expected a marker at offset %d, found 0x%02x", off, data[off])
		}
		m := data[off+1]
		if m == 0xff { // fill byte
			off++
			continue
		}
		if m == markerSOS {
			break
		}
		if m == markerEOI || (m >= 0xd0 && m <= 0xd7) || m == 0x01 {
			return nil, 0, formatErr("jpeg", "marker 0x%02x before the scan at offset %d", m, off)
		}
		n := int(binary.BigEndian.Uint16(data[off+2:]))
		if n < 2 || off+2+n > len(data) {
			return nil, 0, formatErr("jpeg", "truncated: segment 0x%02x at offset %d declares %d bytes, %d left", m, off, n, len(data)-off-2)
		}
		segs = append(segs, jpegSegment{marker: m, start: off, end: off + 2 + n, payload: data[off+4 : off+2+n]})
		off += 2 + n
	}
	if !bytes.HasSuffix(data, []byte{0xff, markerEOI}) {
		return nil, 0, formatErr("jpeg", "truncated: the file does not end with EOI")
	}
	return segs, off, nil
}

// c2paInstance returns the box instance number (En) of the APP11 JUMBF
// segments that carry the C2PA manifest store: those whose first packet
// (Z = 1) holds a jumb superbox with a c2pa description box. Other JUMBF
// boxes a JPEG may carry have other numbers.
func c2paInstanceOf(segs []jpegSegment) (uint16, bool) {
	for _, s := range segs {
		p := s.payload
		if s.marker != markerAPP11 || len(p) < 8+8+8+16 || string(p[:2]) != "JP" || binary.BigEndian.Uint32(p[4:]) != 1 {
			continue
		}
		if string(p[12:16]) == "jumb" && string(p[20:24]) == "jumd" && [16]byte(p[24:40]) == typeStore {
			return binary.BigEndian.Uint16(p[2:]), true
		}
	}
	return 0, false
}

// isStoreSegment reports whether s is one of the APP11 segments of box
// instance en.
func isStoreSegment(s jpegSegment, en uint16) bool {
	return s.marker == markerAPP11 && len(s.payload) >= 8 && string(s.payload[:2]) == "JP" &&
		binary.BigEndian.Uint16(s.payload[2:]) == en
}

// jpegFindStore reassembles the manifest store from data's APP11
// segments and returns it with the byte range the segments span.
func jpegFindStore(data []byte) (store []byte, where span, err error) {
	segs, _, err := jpegSegments(data)
	if err != nil {
		return nil, span{}, err
	}
	en, ok := c2paInstanceOf(segs)
	if !ok {
		return nil, span{}, ErrNoManifest
	}
	type packet struct {
		z    uint32
		body []byte
	}
	var packets []packet
	for _, s := range segs {
		if !isStoreSegment(s, en) {
			continue
		}
		if len(packets) == 0 {
			where.Start = s.start
		}
		p := s.payload
		packets = append(packets, packet{binary.BigEndian.Uint32(p[4:]), p[8:]})
		where.Length = s.end - where.Start
	}
	sort.SliceStable(packets, func(i, j int) bool { return packets[i].z < packets[j].z })
	store = append(store, packets[0].body...)
	for _, p := range packets[1:] {
		if len(p.body) < 8 {
			return nil, span{}, formatErr("jpeg", "APP11 packet %d too short", p.z)
		}
		store = append(store, p.body[8:]...) // skip the repeated LBox and TBox
	}
	return store, where, nil
}

// jpegEmbed returns data with any C2PA APP11 segments removed and store
// written in new ones, and the byte range they span.
func jpegEmbed(data, store []byte) ([]byte, span, error) {
	segs, _, err := jpegSegments(data)
	if err != nil {
		return nil, span{}, err
	}
	if len(store) < 8 {
		return nil, span{}, formatErr("jpeg", "manifest store of %d bytes", len(store))
	}
	// Insert after the last APP0, else after SOI.
	insertAt := 2
	for _, s := range segs {
		if s.marker == markerAPP0 {
			insertAt = s.end
		}
	}
	oldEn, hasOld := c2paInstanceOf(segs)
	out := make([]byte, 0, len(data)+len(store)+len(store)/jpegMaxPiece*20+20)
	copyRange := func(from, to int) {
		for _, s := range segs {
			if s.start >= from && s.end <= to && hasOld && isStoreSegment(s, oldEn) {
				out = append(out, data[from:s.start]...)
				from = s.end
			}
		}
		out = append(out, data[from:to]...)
	}
	copyRange(0, insertAt)
	where := span{Start: len(out)}
	header := store[:8]
	for z, rest := uint32(1), store; len(rest) > 0; z++ {
		piece := rest[:min(len(rest), jpegMaxPiece)]
		rest = rest[len(piece):]
		seg := []byte{'J', 'P', c2paInstance >> 8, c2paInstance & 0xff}
		seg = binary.BigEndian.AppendUint32(seg, z)
		if z > 1 {
			seg = append(seg, header...)
		}
		seg = append(seg, piece...)
		out = append(out, 0xff, markerAPP11)
		out = binary.BigEndian.AppendUint16(out, uint16(2+len(seg)))
		out = append(out, seg...)
	}
	where.Length = len(out) - where.Start
	copyRange(insertAt, len(data))
	return out, where, nil
}
