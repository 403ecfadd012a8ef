package ort

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

// modelScan is what scanModel reads from an ONNX file.
type modelScan struct {
	inputs, outputs []IOInfo
	// external lists the files, relative to the model's folder, that the
	// main graph's initializers keep their data in, each once.
	external []string
}

// readModelIO returns the graph's declared inputs and outputs.
func readModelIO(r io.Reader) (inputs, outputs []IOInfo, err error) {
	m, err := scanModel(r)
	return m.inputs, m.outputs, err
}

// scanModel scans an ONNX ModelProto for the graph's declared inputs and
// outputs and its external data files without loading its weights: every
// other field, initializer data included, is skipped by length. This
// keeps opening a multi-gigabyte UNet to a single load by ONNX Runtime
// itself.
func scanModel(r io.Reader) (modelScan, error) {
	var m modelScan
	sc := &pbScanner{r: bufio.NewReaderSize(r, 1<<16)}
	sawGraph := false
	for {
		field, wire, err := sc.tag()
		if err == io.EOF {
			break
		}
		if err != nil {
			return modelScan{}, err
		}
		if field == 7 && wire == 2 { // ModelProto.graph
			n, err := sc.varint()
			if err != nil {
				return modelScan{}, err
			}
			sawGraph = true
			if err := sc.graph(int64(n), &m); err != nil {
				return modelScan{}, err
			}
			continue
		}
		if err := sc.skip(wire); err != nil {
			return modelScan{}, err
		}
	}
	if !sawGraph {
		return modelScan{}, fmt.Errorf("%w: no graph", ErrFormat)
	}
	if len(m.outputs) == 0 {
		return modelScan{}, fmt.Errorf("%w: graph declares no outputs", ErrFormat)
	}
	return m, nil
}

type pbScanner struct {
	r   *bufio.Reader
	pos int64
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

// bytes reads a length-delimited field's payload (only used for the small
// ValueInfoProto messages).
func (s *pbScanner) bytes(n int64) ([]byte, error) {
	if n < 0 || n > 1<<24 {
		return nil, fmt.Errorf("%w: implausible value-info length %d", ErrFormat, n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(s.r, b)
	s.pos += n
	return b, truncated(err)
}

func (s *pbScanner) graph(n int64, m *modelScan) error {
	end := s.pos + n
	for s.pos < end {
		field, wire, err := s.tag()
		if err != nil {
			return truncated(err)
		}
		if (field == 11 || field == 12) && wire == 2 {
			ln, err := s.varint()
			if err != nil {
				return truncated(err)
			}
			b, err := s.bytes(int64(ln))
			if err != nil {
				return err
			}
			info, err := parseValueInfo(b)
			if err != nil {
				return err
			}
			if field == 11 {
				m.inputs = append(m.inputs, info)
			} else {
				m.outputs = append(m.outputs, info)
			}
			continue
		}
		if field == 5 && wire == 2 { // GraphProto.initializer
			ln, err := s.varint()
			if err != nil {
				return truncated(err)
			}
			if err := s.initializer(int64(ln), m); err != nil {
				return err
			}
			continue
		}
		if err := s.skip(wire); err != nil {
			return err
		}
	}
	if s.pos != end {
		return fmt.Errorf("%w: graph length mismatch", ErrFormat)
	}
	return nil
}

// initializer scans one TensorProto for the location of its external
// data, skipping its raw data.
func (s *pbScanner) initializer(n int64, m *modelScan) error {
	end := s.pos + n
	for s.pos < end {
		field, wire, err := s.tag()
		if err != nil {
			return truncated(err)
		}
		if field != 13 || wire != 2 { // TensorProto.external_data
			if err := s.skip(wire); err != nil {
				return err
			}
			continue
		}
		ln, err := s.varint()
		if err != nil {
			return truncated(err)
		}
		b, err := s.bytes(int64(ln))
		if err != nil {
			return err
		}
		var key, value string
		err = msgFields(b, func(field, wire int, _ uint64, payload []byte) error {
			switch {
			case field == 1 && wire == 2:
				key = string(payload)
			case field == 2 && wire == 2:
				value = string(payload)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if key == "location" && !slices.Contains(m.external, value) {
			m.external = append(m.external, value)
		}
	}
	if s.pos != end {
		return fmt.Errorf("%w: initializer length mismatch", ErrFormat)
	}
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
	return m.inputs, m.outputs, err
}

func scanModelFile(path string) (modelScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return modelScan{}, err
	}
	defer f.Close()
	return scanModel(f)
}
