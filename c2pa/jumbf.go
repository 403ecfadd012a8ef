package c2pa

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// JUMBF (ISO/IEC 19566-5) is a tree of ISO BMFF boxes: a superbox "jumb"
// holds a description box "jumd" (a type UUID and a label) followed by its
// content, either further superboxes or one content box ("cbor", "json").
// C2PA names every box by its label; a manifest store is
//
//	jumb c2pa "c2pa"
//	  jumb c2ma "urn:c2pa:UUID"          (one per manifest; the last is active)
//	    jumb c2as "c2pa.assertions"
//	      jumb cbor "c2pa.actions.v2" > cbor
//	      ...
//	    jumb c2cl "c2pa.claim.v2" > cbor
//	    jumb c2cs "c2pa.signature" > cbor (COSE_Sign1)

// Box type UUIDs: four ASCII characters and the common C2PA suffix.
var (
	typeStore      = c2paUUID("c2pa")
	typeManifest   = c2paUUID("c2ma")
	typeAssertions = c2paUUID("c2as")
	typeClaim      = c2paUUID("c2cl")
	typeSignature  = c2paUUID("c2cs")
	typeCBOR       = c2paUUID("cbor")
	typeJSON       = c2paUUID("json")
)

func c2paUUID(tag string) [16]byte {
	var u [16]byte
	copy(u[:4], tag)
	copy(u[4:], "\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71")
	return u
}

// jumd toggles: bit 0 requestable, bit 1 label present.
const togglesLabelled = 0x03

// superbox is a parsed (or to-be-written) JUMBF superbox.
type superbox struct {
	typ   [16]byte
	label string
	// Exactly one of children and content is used: a superbox of
	// superboxes, or one content box of contentType.
	children    []*superbox
	contentType string
	content     []byte
	// payload is the superbox's bytes after its own 8-byte header (the
	// jumd box and what follows), as read; C2PA hashes assertions over it.
	payload []byte
}

// appendBox appends an ISO BMFF box of type typ around body.
func appendBox(dst []byte, typ string, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(body)))
	dst = append(dst, typ...)
	return append(dst, body...)
}

// encodePayload returns b's payload: its description box, then its
// children or its content box. A content superbox that was read keeps its
// bytes as read (with any further boxes, such as a salt), since
// assertion hashes are over them; clear payload after changing one.
func (b *superbox) encodePayload() []byte {
	if b.children == nil && b.payload != nil {
		return b.payload
	}
	desc := append(b.typ[:16:16], togglesLabelled)
	desc = append(desc, b.label...)
	desc = append(desc, 0)
	out := appendBox(nil, "jumd", desc)
	if b.children == nil {
		return appendBox(out, b.contentType, b.content)
	}
	for _, c := range b.children {
		out = c.appendTo(out)
	}
	return out
}

// appendTo appends the whole superbox to dst.
func (b *superbox) appendTo(dst []byte) []byte {
	return appendBox(dst, "jumb", b.encodePayload())
}

// child returns b's first child superbox labelled label, or nil.
func (b *superbox) child(label string) *superbox {
	for _, c := range b.children {
		if c.label == label {
			return c
		}
	}
	return nil
}

// maxJUMBFDepth bounds nesting so a hostile file cannot recurse forever.
const maxJUMBFDepth = 8

// parseSuperbox reads one JUMBF superbox that spans all of data.
func parseSuperbox(data []byte) (*superbox, error) {
	boxes, err := splitBoxes(data)
	if err != nil {
		return nil, err
	}
	if len(boxes) != 1 || boxes[0].typ != "jumb" {
		return nil, fmt.Errorf("%w: want one jumb superbox", errJUMBF)
	}
	return parseSuperboxPayload(boxes[0].body, 0)
}

func parseSuperboxPayload(payload []byte, depth int) (*superbox, error) {
	if depth > maxJUMBFDepth {
		return nil, fmt.Errorf("%w: nested more than %d deep", errJUMBF, maxJUMBFDepth)
	}
	boxes, err := splitBoxes(payload)
	if err != nil {
		return nil, err
	}
	if len(boxes) == 0 || boxes[0].typ != "jumd" {
		return nil, fmt.Errorf("%w: superbox without a jumd description box", errJUMBF)
	}
	d := boxes[0].body
	if len(d) < 17 {
		return nil, fmt.Errorf("%w: jumd box of %d bytes", errJUMBF, len(d))
	}
	sb := &superbox{payload: payload}
	copy(sb.typ[:], d[:16])
	if d[16]&0x02 != 0 { // label present, NUL-terminated
		end := bytes.IndexByte(d[17:], 0)
		if end < 0 {
			return nil, fmt.Errorf("%w: jumd label not terminated", errJUMBF)
		}
		sb.label = string(d[17 : 17+end])
	}
	for _, bx := range boxes[1:] {
		if bx.typ == "jumb" {
			c, err := parseSuperboxPayload(bx.body, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sb.label, err)
			}
			sb.children = append(sb.children, c)
			continue
		}
		if sb.contentType == "" { // further content boxes (salt, etc.) are not used here
			sb.contentType, sb.content = bx.typ, bx.body
		}
	}
	return sb, nil
}

type rawBox struct {
	typ  string
	body []byte
}

// splitBoxes cuts data into consecutive ISO BMFF boxes.
func splitBoxes(data []byte) ([]rawBox, error) {
	var out []rawBox
	for len(data) > 0 {
		if len(data) < 8 {
			return nil, fmt.Errorf("%w: %d trailing bytes", errJUMBF, len(data))
		}
		n := uint64(binary.BigEndian.Uint32(data))
		typ := string(data[4:8])
		head := uint64(8)
		switch n {
		case 0: // to the end
			n = uint64(len(data))
		case 1: // 64-bit size follows
			if len(data) < 16 {
				return nil, fmt.Errorf("%w: truncated large box header", errJUMBF)
			}
			n, head = binary.BigEndian.Uint64(data[8:]), 16
		}
		if n < head || n > uint64(len(data)) {
			return nil, fmt.Errorf("%w: box %q of %d bytes in %d", errJUMBF, typ, n, len(data))
		}
		out = append(out, rawBox{typ: typ, body: data[head:n]})
		data = data[n:]
	}
	return out, nil
}
