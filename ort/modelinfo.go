package ort

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// IOInfo describes one declared model input or output.
type IOInfo struct {
	Name  string
	DType DType
	// Shape holds the declared dimensions; -1 marks a dynamic one.
	Shape []int64
	// DimNames holds the symbolic name of each dynamic dimension ("" for
	// static ones or unnamed dynamic ones).
	DimNames []string
}

// Rank returns the number of declared dimensions.
func (i IOInfo) Rank() int { return len(i.Shape) }

// String renders i like `sample float32 [batch,4,64,64]`.
func (i IOInfo) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s [", i.Name, i.DType)
	for k, d := range i.Shape {
		if k > 0 {
			b.WriteByte(',')
		}
		switch {
		case d >= 0:
			fmt.Fprint(&b, d)
		case k < len(i.DimNames) && i.DimNames[k] != "":
			b.WriteString(i.DimNames[k])
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// ErrFormat is wrapped by errors about files that are not valid ONNX models.
var ErrFormat = errors.New("not a valid ONNX model")

// readModelIO scans an ONNX ModelProto for the graph's declared inputs and
// outputs without loading its weights (see scanModel).
func readModelIO(r io.Reader) (inputs, outputs []IOInfo, err error) {
	m, err := scanModel(r)
	if err != nil {
		return nil, nil, err
	}
	return m.Inputs, m.Outputs, nil
}

// scanModel reads an ONNX ModelProto's declared inputs and outputs, the
// operators of its main graph and the files its external initializers
// live in, without loading its weights: tensor payloads are skipped by
// length. This keeps opening a multi-gigabyte UNet to a single load by
// ONNX Runtime itself.
func scanModel(r io.Reader) (*ModelSummary, error) {
	sc := &pbScanner{r: bufio.NewReaderSize(r, 1<<16)}
	if seeker, ok := r.(io.Seeker); ok {
		start, err1 := seeker.Seek(0, io.SeekCurrent)
		end, err2 := seeker.Seek(0, io.SeekEnd)
		_, err3 := seeker.Seek(start, io.SeekStart)
		if err1 == nil && err2 == nil && err3 == nil {
			sc.src, sc.seeker, sc.size = r, seeker, end-start
		}
	}
	m := &ModelSummary{}
	sawGraph := false
	for {
		field, wire, err := sc.tag()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if field == 7 && wire == 2 { // ModelProto.graph
			n, err := sc.varint()
			if err != nil {
				return nil, err
			}
			sawGraph = true
			if err := sc.graph(int64(n), m); err != nil {
				return nil, err
			}
			continue
		}
		if err := sc.skip(wire); err != nil {
			return nil, err
		}
	}
	if !sawGraph {
		return nil, fmt.Errorf("%w: no graph", ErrFormat)
	}
	if len(m.Outputs) == 0 {
		return nil, fmt.Errorf("%w: graph declares no outputs", ErrFormat)
	}
	return m, nil
}

type pbScanner struct {
	r   *bufio.Reader
	pos int64
	// src and seeker, when the source is seekable (a file), let discard
	// jump over weights inside the model instead of reading them.
	src    io.Reader
	seeker io.Seeker
	size   int64 // bytes from the scan's start to the end of the file
}

func (s *pbScanner) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && shift > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		s.pos++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint overflow at byte %d", ErrFormat, s.pos)
}

func (s *pbScanner) tag() (field int, wire int, err error) {
	v, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	if v>>3 == 0 {
		return 0, 0, fmt.Errorf("%w: field number 0 at byte %d", ErrFormat, s.pos)
	}
	return int(v >> 3), int(v & 7), nil
}

func (s *pbScanner) discard(n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: negative length at byte %d", ErrFormat, s.pos)
	}
	if buf := int64(s.r.Buffered()); s.seeker != nil && n > buf+1<<20 {
		if s.pos+n > s.size {
			return fmt.Errorf("%w: file is truncated", ErrFormat)
		}
		s.r.Discard(int(buf))
		if _, err := s.seeker.Seek(n-buf, io.SeekCurrent); err != nil {
			return err
		}
		s.r.Reset(s.src)
		s.pos += n
		return nil
	}
	for n > 0 {
		k := n
		if k > 1<<30 {
			k = 1 << 30
		}
		got, err := s.r.Discard(int(k))
		s.pos += int64(got)
		if err != nil {
			return truncated(err)
		}
		n -= k
	}
	return nil
}

func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: file is truncated", ErrFormat)
	}
	return err
}

func (s *pbScanner) skip(wire int) error {
	switch wire {
	case 0:
		_, err := s.varint()
		return truncated(err)
	case 1:
		return s.discard(8)
	case 2:
		n, err := s.varint()
		if err != nil {
			return truncated(err)
		}
		return s.discard(int64(n))
	case 5:
		return s.discard(4)
	}
	return fmt.Errorf("%w: unsupported wire type %d at byte %d", ErrFormat, wire, s.pos)
}

// bytes reads a length-delimited field's payload (only used for small
// messages and strings: value infos, operator names, external-data entries).
func (s *pbScanner) bytes(n int64) ([]byte, error) {
	if n < 0 || n > 1<<24 {
		return nil, fmt.Errorf("%w: implausible field length %d", ErrFormat, n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(s.r, b)
	s.pos += n
	return b, truncated(err)
}

func (s *pbScanner) graph(n int64, m *ModelSummary) error {
	end := s.pos + n
	for s.pos < end {
		field, wire, err := s.tag()
		if err != nil {
			return truncated(err)
		}
		if wire != 2 || (field != 1 && field != 5 && field != 11 && field != 12) {
			if err := s.skip(wire); err != nil {
				return err
			}
			continue
		}
		ln, err := s.varint()
		if err != nil {
			return truncated(err)
		}
		switch field {
		case 1: // GraphProto.node
			err = s.node(int64(ln), m)
		case 5: // GraphProto.initializer
			err = s.initializer(int64(ln), m)
		default: // GraphProto.input (11), output (12)
			var b []byte
			if b, err = s.bytes(int64(ln)); err != nil {
				return err
			}
			var info IOInfo
			if info, err = parseValueInfo(b); err != nil {
				return err
			}
			if field == 11 {
				m.Inputs = append(m.Inputs, info)
			} else {
				m.Outputs = append(m.Outputs, info)
			}
		}
		if err != nil {
			return err
		}
	}
	if s.pos != end {
		return fmt.Errorf("%w: graph length mismatch", ErrFormat)
	}
	return nil
}

// fields walks a length-delimited message of n bytes from the stream,
// handing the payload of the wanted string fields to fn and skipping the
// rest (tensor data, attributes) by length.
func (s *pbScanner) fields(n int64, want func(field int) bool, fn func(field int, b []byte)) error {
	end := s.pos + n
	for s.pos < end {
		field, wire, err := s.tag()
		if err != nil {
			return truncated(err)
		}
		if wire == 2 && want(field) {
			ln, err := s.varint()
			if err != nil {
				return truncated(err)
			}
			b, err := s.bytes(int64(ln))
			if err != nil {
				return err
			}
			fn(field, b)
			continue
		}
		if err := s.skip(wire); err != nil {
			return err
		}
	}
	if s.pos != end {
		return fmt.Errorf("%w: message length mismatch", ErrFormat)
	}
	return nil
}

// node records NodeProto{op_type=4, domain=7}.
func (s *pbScanner) node(n int64, m *ModelSummary) error {
	var op Op
	err := s.fields(n, func(f int) bool { return f == 4 || f == 7 }, func(f int, b []byte) {
		if f == 4 {
			op.Type = string(b)
		} else {
			op.Domain = string(b)
		}
	})
	if err != nil {
		return err
	}
	if op.Domain == "ai.onnx" {
		op.Domain = ""
	}
	for _, o := range m.Ops {
		if o == op {
			return nil
		}
	}
	m.Ops = append(m.Ops, op)
	return nil
}

// initializer records the location of TensorProto.external_data (13):
// StringStringEntryProto{key=1, value=2} entries.
func (s *pbScanner) initializer(n int64, m *ModelSummary) error {
	var loc string
	err := s.fields(n, func(f int) bool { return f == 13 }, func(_ int, b []byte) {
		var key, value string
		msgFields(b, func(f, w int, _ uint64, p []byte) error {
			if f == 1 && w == 2 {
				key = string(p)
			} else if f == 2 && w == 2 {
				value = string(p)
			}
			return nil
		})
		if key == "location" {
			loc = value
		}
	})
	if err != nil || loc == "" {
		return err
	}
	for _, l := range m.ExternalData {
		if l == loc {
			return nil
		}
	}
	m.ExternalData = append(m.ExternalData, loc)
	return nil
}

// msgFields walks one in-memory message, calling fn for each field with its
// varint value or payload.
func msgFields(b []byte, fn func(field, wire int, v uint64, payload []byte) error) error {
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad value info", ErrFormat)
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case 0:
			v, n := uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: bad varint", ErrFormat)
			}
			b = b[n:]
			if err := fn(field, wire, v, nil); err != nil {
				return err
			}
		case 2:
			l, n := uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return fmt.Errorf("%w: bad length", ErrFormat)
			}
			p := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(field, wire, 0, p); err != nil {
				return err
			}
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("%w: short fixed64", ErrFormat)
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("%w: short fixed32", ErrFormat)
			}
			b = b[4:]
		default:
			return fmt.Errorf("%w: wire type %d", ErrFormat, wire)
		}
	}
	return nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// parseValueInfo decodes ValueInfoProto{name=1, type=2} with
// TypeProto{tensor_type=1: {elem_type=1, shape=2: {dim=1: {dim_value=1,
// dim_param=2}}}}.
func parseValueInfo(b []byte) (IOInfo, error) {
	var info IOInfo
	err := msgFields(b, func(f, w int, _ uint64, p []byte) error {
		switch {
		case f == 1 && w == 2:
			info.Name = string(p)
		case f == 2 && w == 2:
			return msgFields(p, func(f, w int, _ uint64, p []byte) error {
				if f != 1 || w != 2 { // only tensor types are used here
					return nil
				}
				return msgFields(p, func(f, w int, v uint64, p []byte) error {
					switch {
					case f == 1 && w == 0:
						info.DType = fromONNXEnum(int(v))
					case f == 2 && w == 2:
						info.Shape = []int64{}
						return msgFields(p, func(f, w int, _ uint64, p []byte) error {
							if f != 1 || w != 2 {
								return nil
							}
							dim, name := int64(-1), ""
							err := msgFields(p, func(f, w int, v uint64, p []byte) error {
								if f == 1 && w == 0 {
									dim = int64(v)
								} else if f == 2 && w == 2 {
									name = string(p)
								}
								return nil
							})
							info.Shape = append(info.Shape, dim)
							info.DimNames = append(info.DimNames, name)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	if err == nil && info.Name == "" {
		err = fmt.Errorf("%w: unnamed graph input or output", ErrFormat)
	}
	return info, err
}

// fromONNXEnum maps TensorProto.DataType values.
func fromONNXEnum(v int) DType {
	switch v {
	case 1:
		return Float32
	case 2:
		return Uint8
	case 3:
		return Int8
	case 6:
		return Int32
	case 7:
		return Int64
	case 9:
		return Bool
	case 10:
		return Float16
	case 11:
		return Float64
	case 0:
		return Undefined
	}
	return Other
}

// ReadModelInfo returns the declared inputs and outputs of the ONNX model
// at path without loading its weights or ONNX Runtime.
func ReadModelInfo(path string) (inputs, outputs []IOInfo, err error) {
	in, out, err := readModelIOFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ort: read model %s: %w", path, err)
	}
	return in, out, nil
}

func readModelIOFile(path string) ([]IOInfo, []IOInfo, error) {
	m, err := scanModelFile(path)
	if err != nil {
		return nil, nil, err
	}
	return m.Inputs, m.Outputs, nil
}

// scanModelFile is scanModel of the file at path.
func scanModelFile(path string) (*ModelSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scanModel(f)
}

// ModelSummary is what ScanModel reads from an ONNX file without loading
// its weights.
type ModelSummary struct {
	Inputs, Outputs []IOInfo
	// Ops lists the operators the main graph uses, each once, in first-use
	// order (nodes inside subgraphs are not listed).
	Ops []Op
	// ExternalData lists the files, relative to the model's folder, that
	// hold its external initializers, as the model's own external_data
	// entries name them (model.onnx_data, model.onnx.data, weights.pb, ...).
	ExternalData []string
}

// Op is one operator type: Domain is "" for the default ONNX domain,
// "com.microsoft" for ONNX Runtime's contrib operators.
type Op struct {
	Domain, Type string
}

// String renders op as Type or Domain.Type.
func (op Op) String() string {
	if op.Domain == "" {
		return op.Type
	}
	return op.Domain + "." + op.Type
}

// ScanModel reads the model at path: its declared inputs and outputs, the
// operators it uses and the files its external weights sit in. It loads
// neither the weights nor ONNX Runtime.
func ScanModel(path string) (*ModelSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ort: read model: %w", err)
	}
	defer f.Close()
	m, err := scanModel(f)
	if err != nil {
		return nil, fmt.Errorf("ort: read model %s: %w", path, err)
	}
	return m, nil
}
