package textinversion

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/x448/float16"
)

// loadTorch reads the tensors of a torch.save file (a zip holding
// data.pkl and data/N storages), nested dict keys joined with dots
// ("string_to_param.*"). Its unpickler knows the handful of opcodes and
// globals torch.save writes for dicts of tensors and calls nothing.
func loadTorch(path string) (map[string]tensor, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("not a PyTorch zip file (legacy pickled .pt files are not read): %w", err)
	}
	defer zr.Close()
	var pkl *zip.File
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
		if strings.HasSuffix(f.Name, "data.pkl") && pkl == nil {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("no data.pkl in the archive")
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	rc, err := pkl.Open()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	rc.Close()
	if err != nil {
		return nil, err
	}
	root, err := unpickle(data)
	if err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	out := map[string]tensor{}
	var walk func(name string, v any) error
	walk = func(name string, v any) error {
		switch x := v.(type) {
		case *pdict:
			for _, k := range x.keys {
				key := fmt.Sprint(k)
				if name != "" {
					key = name + "." + key
				}
				if err := walk(key, x.m[k]); err != nil {
					return err
				}
			}
		case *ptensor:
			t, err := x.read(files, prefix)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out[name] = t
		}
		return nil
	}
	if err := walk("", root); err != nil {
		return nil, err
	}
	return out, nil
}

type pdict struct {
	keys []any
	m    map[any]any
}

type pglobal struct{ module, name string }

type pstorage struct {
	dtype string // "FloatStorage", "HalfStorage", "BFloat16Storage"
	key   string
}

type ptensor struct {
	storage      pstorage
	offset       int64
	size, stride []int64
}

type ptuple []any

// read gathers the tensor's elements from its storage file.
func (t *ptensor) read(files map[string]*zip.File, prefix string) (tensor, error) {
	f := files[prefix+"data/"+t.storage.key]
	if f == nil {
		return tensor{}, fmt.Errorf("storage %s missing from the archive", t.storage.key)
	}
	var elem int
	switch t.storage.dtype {
	case "FloatStorage":
		elem = 4
	case "HalfStorage", "BFloat16Storage":
		elem = 2
	default:
		return tensor{}, fmt.Errorf("storage type %s is not a float type read here", t.storage.dtype)
	}
	if f.UncompressedSize64 > 1<<32 {
		return tensor{}, fmt.Errorf("storage %s of %d bytes is too large for an embedding", t.storage.key, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return tensor{}, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return tensor{}, err
	}
	n := int64(1)
	for _, d := range t.size {
		if d < 0 || d > 1<<31 {
			return tensor{}, fmt.Errorf("bad size %v", t.size)
		}
		n *= d
	}
	if len(t.stride) != len(t.size) || n > 1<<28 {
		return tensor{}, fmt.Errorf("bad size %v / stride %v", t.size, t.stride)
	}
	out := make([]float32, n)
	idx := make([]int64, len(t.size))
	for i := range out {
		pos := t.offset
		for k := range idx {
			pos += idx[k] * t.stride[k]
		}
		if pos < 0 || (pos+1)*int64(elem) > int64(len(raw)) {
			return tensor{}, fmt.Errorf("element %d lies outside storage %s", i, t.storage.key)
		}
		b := raw[pos*int64(elem):]
		switch t.storage.dtype {
		case "FloatStorage":
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		case "HalfStorage":
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(b)).Float32()
		case "BFloat16Storage":
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
		}
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < t.size[k] {
				break
			}
			idx[k] = 0
		}
	}
	return tensor{shape: t.size, data: out}, nil
}

// unpickle runs the pickle opcodes torch.save writes and returns the
// root object.
func unpickle(b []byte) (any, error) {
	var stack []any
	var marks []int
	memo := map[uint32]any{}
	pos := 0
	need := func(n int) ([]byte, error) {
		if pos+n > len(b) || n < 0 {
			return nil, errors.New("truncated pickle")
		}
		s := b[pos : pos+n]
		pos += n
		return s, nil
	}
	pop := func() (any, error) {
		if len(stack) == 0 {
			return nil, errors.New("pickle stack underflow")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	popMark := func() ([]any, error) {
		if len(marks) == 0 {
			return nil, errors.New("pickle mark missing")
		}
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		if m > len(stack) {
			return nil, errors.New("pickle mark past the stack")
		}
		items := append([]any(nil), stack[m:]...)
		stack = stack[:m]
		return items, nil
	}
	for pos < len(b) {
		op := b[pos]
		pos++
		switch op {
		case 0x80: // PROTO
			if _, err := need(1); err != nil {
				return nil, err
			}
		case 0x95: // FRAME
			if _, err := need(8); err != nil {
				return nil, err
			}
		case '.': // STOP
			return pop()
		case '}':
			stack = append(stack, &pdict{m: map[any]any{}})
		case ']':
			stack = append(stack, &[]any{})
		case ')':
			stack = append(stack, ptuple{})
		case '(':
			marks = append(marks, len(stack))
		case 'N':
			stack = append(stack, nil)
		case 0x88, 0x89:
			stack = append(stack, op == 0x88)
		case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
			var k uint32
			switch op {
			case 'q':
				s, err := need(1)
				if err != nil {
					return nil, err
				}
				k = uint32(s[0])
			case 'r':
				s, err := need(4)
				if err != nil {
					return nil, err
				}
				k = binary.LittleEndian.Uint32(s)
			default:
				k = uint32(len(memo))
			}
			if len(stack) == 0 {
				return nil, errors.New("pickle memo of an empty stack")
			}
			memo[k] = stack[len(stack)-1]
		case 'h', 'j': // BINGET, LONG_BINGET
			n := 1
			if op == 'j' {
				n = 4
			}
			s, err := need(n)
			if err != nil {
				return nil, err
			}
			k := uint32(s[0])
			if n == 4 {
				k = binary.LittleEndian.Uint32(s)
			}
			v, ok := memo[k]
			if !ok {
				return nil, fmt.Errorf("pickle memo %d unset", k)
			}
			stack = append(stack, v)
		case 'X', 0x8c, 'U', 'B', 'C', 0x8e: // strings and bytes
			var n int
			switch op {
			case 'X', 'B':
				s, err := need(4)
				if err != nil {
					return nil, err
				}
				n = int(binary.LittleEndian.Uint32(s))
			case 0x8e:
				s, err := need(8)
				if err != nil {
					return nil, err
				}
				n = int(binary.LittleEndian.Uint64(s))
			default:
				s, err := need(1)
				if err != nil {
					return nil, err
				}
				n = int(s[0])
			}
			s, err := need(n)
			if err != nil {
				return nil, err
			}
			stack = append(stack, string(s))
		case 'K':
			s, err := need(1)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(s[0]))
		case 'M':
			s, err := need(2)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(binary.LittleEndian.Uint16(s)))
		case 'J':
			s, err := need(4)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(int32(binary.LittleEndian.Uint32(s))))
		case 0x8a: // LONG1
			s, err := need(1)
			if err != nil {
				return nil, err
			}
			v, err := need(int(s[0]))
			if err != nil || len(v) > 8 {
				return nil, errors.New("pickle LONG1 too long")
			}
			var x int64
			for i := len(v) - 1; i >= 0; i-- {
				x = x<<8 | int64(v[i])
			}
			if len(v) > 0 && len(v) < 8 && v[len(v)-1]&0x80 != 0 {
				x -= 1 << (8 * len(v))
			}
			stack = append(stack, x)
		case 'G':
			s, err := need(8)
			if err != nil {
				return nil, err
			}
			stack = append(stack, math.Float64frombits(binary.BigEndian.Uint64(s)))
		case 'c': // GLOBAL module\nname\n
			end := strings.IndexByte(string(b[pos:]), '\n')
			if end < 0 {
				return nil, errors.New("truncated GLOBAL")
			}
			mod := string(b[pos : pos+end])
			pos += end + 1
			end = strings.IndexByte(string(b[pos:]), '\n')
			if end < 0 {
				return nil, errors.New("truncated GLOBAL")
			}
			stack = append(stack, pglobal{mod, string(b[pos : pos+end])})
			pos += end + 1
		case 't':
			items, err := popMark()
			if err != nil {
				return nil, err
			}
			stack = append(stack, ptuple(items))
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op - 0x84)
			if len(stack) < n {
				return nil, errors.New("pickle stack underflow")
			}
			t := append(ptuple(nil), stack[len(stack)-n:]...)
			stack = append(stack[:len(stack)-n], t)
		case 'Q': // BINPERSID: ('storage', type, key, location, numel)
			pid, err := pop()
			if err != nil {
				return nil, err
			}
			t, ok := pid.(ptuple)
			if !ok || len(t) < 3 {
				return nil, fmt.Errorf("unknown persistent id %v", pid)
			}
			g, _ := t[1].(pglobal)
			key, _ := t[2].(string)
			stack = append(stack, pstorage{dtype: g.name, key: key})
		case 'R', 0x81: // REDUCE, NEWOBJ
			args, err := pop()
			if err != nil {
				return nil, err
			}
			fn, err := pop()
			if err != nil {
				return nil, err
			}
			stack = append(stack, reduce(fn, args))
		case 'b': // BUILD: state is ignored (OrderedDict, Parameter)
			if _, err := pop(); err != nil {
				return nil, err
			}
		case 's', 'u': // SETITEM, SETITEMS
			var items []any
			if op == 's' {
				if len(stack) < 2 {
					return nil, errors.New("pickle stack underflow")
				}
				items = append(items, stack[len(stack)-2:]...)
				stack = stack[:len(stack)-2]
			} else {
				var err error
				if items, err = popMark(); err != nil {
					return nil, err
				}
			}
			if len(stack) == 0 || len(items)%2 != 0 {
				return nil, errors.New("pickle SETITEM without a dict")
			}
			d, ok := stack[len(stack)-1].(*pdict)
			if !ok {
				return nil, errors.New("pickle SETITEM on a non-dict")
			}
			for i := 0; i < len(items); i += 2 {
				k := items[i]
				switch k.(type) {
				case string, int64, bool, nil, float64:
				default:
					k = fmt.Sprint(k)
				}
				if _, seen := d.m[k]; !seen {
					d.keys = append(d.keys, k)
				}
				d.m[k] = items[i+1]
			}
		case 'a', 'e': // APPEND, APPENDS
			var items []any
			if op == 'a' {
				v, err := pop()
				if err != nil {
					return nil, err
				}
				items = []any{v}
			} else {
				var err error
				if items, err = popMark(); err != nil {
					return nil, err
				}
			}
			if len(stack) == 0 {
				return nil, errors.New("pickle APPEND without a list")
			}
			l, ok := stack[len(stack)-1].(*[]any)
			if !ok {
				return nil, errors.New("pickle APPEND on a non-list")
			}
			*l = append(*l, items...)
		default:
			return nil, fmt.Errorf("pickle opcode 0x%02x at byte %d is not one torch.save writes for tensors", op, pos-1)
		}
	}
	return nil, errors.New("pickle without STOP")
}

// reduce applies the few callables torch.save uses; anything else becomes
// an opaque value.
func reduce(fn, args any) any {
	g, _ := fn.(pglobal)
	a, _ := args.(ptuple)
	switch g.module + "." + g.name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		if len(a) >= 4 {
			st, ok1 := a[0].(pstorage)
			off, ok2 := a[1].(int64)
			size, ok3 := ints(a[2])
			stride, ok4 := ints(a[3])
			if ok1 && ok2 && ok3 && ok4 {
				return &ptensor{storage: st, offset: off, size: size, stride: stride}
			}
		}
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(a) >= 1 {
			return a[0]
		}
	case "collections.OrderedDict":
		return &pdict{m: map[any]any{}}
	}
	return g
}

func ints(v any) ([]int64, bool) {
	t, ok := v.(ptuple)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}
