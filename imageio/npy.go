package imageio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// The .npy format (numpy.lib.format): a magic string, a version, a
// little-endian header length, a Python dict literal describing the array,
// then the raw data.
const npyMagic = "\x93NUMPY"

// maxNPYElements bounds what ReadNPY accepts, so a corrupt header cannot
// ask for an absurd allocation (2^31 float32 values are 8 GiB).
const maxNPYElements = 1 << 31

// WriteNPY writes data as a version 1.0 .npy file of little-endian float32
// in C order with the given shape, as numpy.save does; numpy.load reads it
// back unchanged. An empty shape writes a 0-d array of one element.
func WriteNPY(w io.Writer, shape []int, data []float32) error {
	if err := writeNPYHeader(w, "<f4", shape, len(data)); err != nil {
		return err
	}
	buf := make([]byte, 0, 4*min(len(data), 1<<14))
	for i := 0; i < len(data); i += 1 << 14 {
		buf = buf[:0]
		for _, v := range data[i:min(i+1<<14, len(data))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("imageio: write npy: %w", err)
		}
	}
	return nil
}

// WriteNPYInt64 writes data as a .npy file of little-endian int64 ('<i8')
// in C order, as numpy.save does for an int64 array (VQ-VAE codes).
func WriteNPYInt64(w io.Writer, shape []int, data []int64) error {
	if err := writeNPYHeader(w, "<i8", shape, len(data)); err != nil {
		return err
	}
	buf := make([]byte, 0, 8*min(len(data), 1<<13))
	for i := 0; i < len(data); i += 1 << 13 {
		buf = buf[:0]
		for _, v := range data[i:min(i+1<<13, len(data))] {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("imageio: write npy: %w", err)
		}
	}
	return nil
}

// SaveNPYInt64 writes data to path as WriteNPYInt64 does, atomically.
func SaveNPYInt64(path string, shape []int, data []int64) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteNPYInt64(w, shape, data) })
}

// writeNPYHeader writes the magic, version and header dict of a version
// 1.0 file of count values of dtype descr.
func writeNPYHeader(w io.Writer, descr string, shape []int, count int) error {
	n, err := numElements(shape)
	if err != nil {
		return err
	}
	if n != count {
		return fmt.Errorf("%w: shape %v holds %d values, got %d", ErrShape, shape, n, count)
	}
	var dims []string
	for _, d := range shape {
		dims = append(dims, strconv.Itoa(d))
	}
	shapeText := "(" + strings.Join(dims, ", ")
	if len(dims) == 1 {
		shapeText += ","
	}
	shapeText += ")"
	header := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }"
	// numpy pads with spaces and ends with a newline so the data starts on
	// a 64-byte boundary.
	total := len(npyMagic) + 2 + 2 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("%w: %d dimensions do not fit a version 1.0 header", ErrShape, len(shape))
	}
	var pre [10]byte
	copy(pre[:], npyMagic)
	pre[6], pre[7] = 1, 0
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(header)))
	if _, err := w.Write(pre[:]); err != nil {
		return fmt.Errorf("imageio: write npy: %w", err)
	}
	if _, err := io.WriteString(w, header); err != nil {
		return fmt.Errorf("imageio: write npy: %w", err)
	}
	return nil
}

// SaveNPY writes data to path as WriteNPY does, atomically.
func SaveNPY(path string, shape []int, data []float32) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteNPY(w, shape, data) })
}

// ReadNPY reads a .npy file (format versions 1 to 3) holding float32 values
// in C order and returns its shape and data. Little-endian and big-endian
// float32 are accepted; other dtypes and Fortran order give ErrUnsupported,
// a malformed file a *FormatError.
func ReadNPY(r io.Reader) (shape []int, data []float32, err error) {
	br := bufio.NewReader(r)
	h, err := readNPYHeader(br)
	if err != nil {
		return nil, nil, err
	}
	var order binary.ByteOrder
	switch h.descr {
	case "<f4":
		order = binary.LittleEndian
	case ">f4":
		order = binary.BigEndian
	default:
		return nil, nil, fmt.Errorf("%w: npy dtype %q (only float32)", ErrUnsupported, h.descr)
	}
	if h.fortran {
		return nil, nil, fmt.Errorf("%w: npy in Fortran order", ErrUnsupported)
	}
	n, err := numElements(h.shape)
	if err != nil || n > maxNPYElements {
		return nil, nil, formatErr("npy", "shape %v too large", h.shape)
	}
	// Grow with the data actually read rather than trusting the header.
	data = make([]float32, 0, min(n, 1<<20))
	chunk := make([]byte, 4<<12)
	for len(data) < n {
		want := min(n-len(data), len(chunk)/4)
		if _, err := io.ReadFull(br, chunk[:4*want]); err != nil {
			return nil, nil, npyReadErr(err, fmt.Sprintf("data (%d of %d values read)", len(data), n))
		}
		for i := 0; i < want; i++ {
			data = append(data, math.Float32frombits(order.Uint32(chunk[4*i:])))
		}
	}
	return h.shape, data, nil
}

// readNPYHeader reads the magic, version and header dict.
func readNPYHeader(br *bufio.Reader) (npyHeader, error) {
	var h npyHeader
	var pre [8]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return h, npyReadErr(err, "magic")
	}
	if string(pre[:6]) != npyMagic {
		return h, formatErr("npy", "bad magic %q", pre[:6])
	}
	var headerLen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, npyReadErr(err, "header length")
		}
		headerLen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, npyReadErr(err, "header length")
		}
		headerLen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return h, fmt.Errorf("%w: npy format version %d.%d", ErrUnsupported, pre[6], pre[7])
	}
	if headerLen > 1<<20 {
		return h, formatErr("npy", "header of %d bytes", headerLen)
	}
	header := make([]byte, headerLen)
	if _, err := io.ReadFull(br, header); err != nil {
		return h, npyReadErr(err, "header")
	}
	return parseNPYHeader(string(header))
}

// ReadNPYInt64 reads a .npy file of integers in C order (int64, int32,
// int16, int8, uint8 or uint16, either byte order) and returns its shape and
// values as int64. Float arrays and other dtypes give ErrUnsupported (naming
// the dtype), a malformed file a *FormatError.
func ReadNPYInt64(r io.Reader) (shape []int, data []int64, err error) {
	br := bufio.NewReader(r)
	h, err := readNPYHeader(br)
	if err != nil {
		return nil, nil, err
	}
	if h.fortran {
		return nil, nil, fmt.Errorf("%w: npy in Fortran order", ErrUnsupported)
	}
	if len(h.descr) != 3 {
		return nil, nil, fmt.Errorf("%w: npy dtype %q (want integers)", ErrUnsupported, h.descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if h.descr[0] == '>' {
		order = binary.BigEndian
	}
	size := int(h.descr[2] - '0')
	kind := h.descr[1]
	if (kind != 'i' && kind != 'u') || (size != 1 && size != 2 && size != 4 && size != 8) || (kind == 'u' && size > 2) {
		return nil, nil, fmt.Errorf("%w: npy dtype %q (want int64, int32, int16, int8, uint8 or uint16)", ErrUnsupported, h.descr)
	}
	n, err := numElements(h.shape)
	if err != nil || n > maxNPYElements {
		return nil, nil, formatErr("npy", "shape %v too large", h.shape)
	}
	data = make([]int64, 0, min(n, 1<<20))
	chunk := make([]byte, 8<<12)
	for len(data) < n {
		want := min(n-len(data), len(chunk)/size)
		if _, err := io.ReadFull(br, chunk[:size*want]); err != nil {
			return nil, nil, npyReadErr(err, fmt.Sprintf("data (%d of %d values read)", len(data), n))
		}
		for i := 0; i < want; i++ {
			b := chunk[size*i:]
			var v int64
			switch {
			case size == 8:
				v = int64(order.Uint64(b))
			case size == 4:
				v = int64(int32(order.Uint32(b)))
			case size == 2 && kind == 'i':
				v = int64(int16(order.Uint16(b)))
			case size == 2:
				v = int64(order.Uint16(b))
			case kind == 'i':
				v = int64(int8(b[0]))
			default:
				v = int64(b[0])
			}
			data = append(data, v)
		}
	}
	return h.shape, data, nil
}

// LoadNPYInt64 reads the .npy file at path as ReadNPYInt64 does.
func LoadNPYInt64(path string) (shape []int, data []int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	shape, data, err = ReadNPYInt64(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return shape, data, nil
}

// LoadNPY reads the .npy file at path as ReadNPY does.
func LoadNPY(path string) (shape []int, data []float32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	shape, data, err = ReadNPY(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return shape, data, nil
}

func npyReadErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return formatErr("npy", "truncated %s", what)
	}
	return fmt.Errorf("imageio: read npy %s: %w", what, err)
}

type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// parseNPYHeader parses the dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }. It accepts
// the keys in any order and either quote style, and requires all three.
func parseNPYHeader(s string) (npyHeader, error) {
	var h npyHeader
	p := &dictParser{s: strings.TrimRight(s, " \n\r\t\x00")}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return h, formatErr("npy", "header %q is not a dict", s)
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return h, formatErr("npy", "header key at %d", p.i)
		}
		p.space()
		if !p.eat(':') {
			return h, formatErr("npy", "header: no ':' after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if h.descr, ok = p.str(); !ok {
				return h, formatErr("npy", "header: descr is not a string")
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
				h.fortran = false
			default:
				return h, formatErr("npy", "header: fortran_order is not a bool")
			}
		case "shape":
			if h.shape, ok = p.tuple(); !ok {
				return h, formatErr("npy", "header: shape is not a tuple of sizes")
			}
		default:
			return h, formatErr("npy", "header: unknown key %q", key)
		}
		if seen[key] {
			return h, formatErr("npy", "header: key %q repeated", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return h, formatErr("npy", "header: expected ',' or '}' at %d", p.i)
			}
			break
		}
	}
	p.space()
	if p.i != len(p.s) {
		return h, formatErr("npy", "header: trailing %q", p.s[p.i:])
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return h, formatErr("npy", "header %q lacks descr, fortran_order or shape", s)
	}
	return h, nil
}

type dictParser struct {
	s string
	i int
}

func (p *dictParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes, which is all numpy writes.
func (p *dictParser) str() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

// tuple reads a tuple of non-negative integers: (), (3,), (2, 3).
func (p *dictParser) tuple() ([]int, bool) {
	if !p.eat('(') {
		return nil, false
	}
	dims := []int{}
	for {
		p.space()
		if p.eat(')') {
			return dims, true
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == start || p.i-start > 18 {
			return nil, false
		}
		d, err := strconv.Atoi(p.s[start:p.i])
		if err != nil {
			return nil, false
		}
		p.word("L") // Python 2 wrote sizes as longs: (3L, 4L)
		dims = append(dims, d)
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, false
			}
			return dims, true
		}
	}
}

// numElements returns the product of shape, rejecting negative sizes and
// products that overflow.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative size in %v", ErrShape, shape)
		}
		if d != 0 && n > math.MaxInt32*4/d {
			return 0, fmt.Errorf("%w: %v has too many elements", ErrShape, shape)
		}
		n *= d
	}
	return n, nil
}
