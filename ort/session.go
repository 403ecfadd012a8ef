package ort

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
)

// Session is one loaded model. It is safe for concurrent use; runs on one
// Session are serialized because they share conversion buffers.
type Session struct {
	name    string
	s       *ortgo.DynamicAdvancedSession
	inputs  []IOInfo
	outputs []IOInfo
	device  Device
	runOpts *ortgo.RunOptions
	// cacheHit is set when the session was opened from a GraphCache entry.
	cacheHit bool

	mu    sync.Mutex
	bufs  map[string][]byte    // per-input float16 conversion buffers
	f32   map[string][]float32 // per-input float32 conversion buffers
	f64   map[string][]float64
	i32   map[string][]int32
	i64   map[string][]int64
	bools map[string][]bool
}

// Open loads the ONNX model at path.
func Open(path string, opts Options) (*Session, error) {
	if !ortgo.IsInitialized() {
		return nil, ErrNotInitialized
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("ort: open model: %w", err)
	}
	m, err := scanModelFile(path)
	if err != nil {
		return nil, fmt.Errorf("ort: open model %s: %w", path, err)
	}
	if needsFloat16Cast(m) {
		if s, err := openCastFloat16(path, opts); s != nil || err != nil {
			return s, err
		}
	}
	src := modelSource{name: path, path: path, dataDir: filepath.Dir(path), external: m.ExternalData, ops: m.Ops}
	return openSource(src, m.Inputs, m.Outputs, opts)
}

// OpenBytes loads a model held in memory (for example one embedded with
// go:embed); name is used in error messages. A model whose weights are in
// external data files names their folder with the session configuration
// entry "session.model_external_initializers_file_folder_path".
func OpenBytes(name string, data []byte, opts Options) (*Session, error) {
	if !ortgo.IsInitialized() {
		return nil, ErrNotInitialized
	}
	m, err := scanModel(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ort: open model %s: %w", name, err)
	}
	if needsFloat16Cast(m) {
		rewritten, err := castFloat16IO(data)
		if err != nil {
			return nil, fmt.Errorf("ort: open model %s: %w", name, err)
		}
		if rewritten != nil {
			if m, err = scanModel(bytes.NewReader(rewritten)); err != nil {
				return nil, fmt.Errorf("ort: open model %s: %w", name, err)
			}
			data = rewritten
		}
	}
	src := modelSource{name: name, data: data, dataDir: opts.Config[cfgExternalDataFolder], external: m.ExternalData, ops: m.Ops}
	return openSource(src, m.Inputs, m.Outputs, opts)
}

// modelSource is a model to open: a file, or bytes; the files named in
// external hold its weights and sit in dataDir; ops are its operators.
type modelSource struct {
	name     string
	path     string
	data     []byte
	dataDir  string
	external []string
	ops      []Op
}

// createFunc makes the ONNX Runtime session of a model.
type createFunc func(ins, outs []string, so *ortgo.SessionOptions) (*ortgo.DynamicAdvancedSession, error)

func fromFile(path string) createFunc {
	return func(ins, outs []string, so *ortgo.SessionOptions) (*ortgo.DynamicAdvancedSession, error) {
		return ortgo.NewDynamicAdvancedSession(path, ins, outs, so)
	}
}

// open loads m without the graph cache.
func (m modelSource) open(in, out []IOInfo, opts Options) (*Session, error) {
	create := fromFile(m.path)
	if m.path == "" {
		create = func(ins, outs []string, so *ortgo.SessionOptions) (*ortgo.DynamicAdvancedSession, error) {
			return ortgo.NewDynamicAdvancedSessionWithONNXData(m.data, ins, outs, so)
		}
	}
	return newSession(m.name, in, out, m.ops, opts, create)
}

// openSource loads m through opts.Cache when one is set.
func openSource(m modelSource, in, out []IOInfo, opts Options) (*Session, error) {
	if opts.Cache == nil || opts.OptimizedModelPath != "" {
		return m.open(in, out, opts)
	}
	return opts.Cache.open(m, in, out, opts)
}

// newSession creates the session of a model with the given inputs,
// outputs and operators (checked against the CPU's kernels first).
func newSession(name string, in, out []IOInfo, ops []Op, opts Options, create createFunc) (*Session, error) {
	so, dev, err := opts.sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: open model %s: %w", name, err)
	}
	defer so.Destroy()
	if dev.Kind == DeviceCPU {
		if err := checkCPUOps(ops); err != nil {
			return nil, fmt.Errorf("ort: open model %s: %w", name, err)
		}
	}
	inNames := make([]string, len(in))
	for i, v := range in {
		inNames[i] = v.Name
	}
	outNames := make([]string, len(out))
	for i, v := range out {
		outNames[i] = v.Name
	}
	s, err := create(inNames, outNames, so)
	if err != nil {
		return nil, fmt.Errorf("ort: open model %s: %w", name, kernelError(err, dev))
	}
	ro, err := ortgo.NewRunOptions()
	if err != nil {
		s.Destroy()
		return nil, fmt.Errorf("ort: open model %s: %w", name, err)
	}
	return &Session{
		name: name, s: s, inputs: in, outputs: out, device: dev, runOpts: ro,
		bufs: map[string][]byte{}, f32: map[string][]float32{}, f64: map[string][]float64{},
		i32: map[string][]int32{}, i64: map[string][]int64{}, bools: map[string][]bool{},
	}, nil
}

// Name returns the model's file path (or the name given to OpenBytes).
func (s *Session) Name() string { return s.name }

// GraphCacheHit reports whether the session was opened from an entry of
// Options.Cache (false for a first load, which writes the entry).
func (s *Session) GraphCacheHit() bool { return s.cacheHit }

// Device returns the device the session runs on (DeviceAuto resolved).
func (s *Session) Device() Device { return s.device }

// Inputs returns the declared inputs in graph order.
func (s *Session) Inputs() []IOInfo { return s.inputs }

// Outputs returns the declared outputs in graph order.
func (s *Session) Outputs() []IOInfo { return s.outputs }

// Input returns the declared input called name.
func (s *Session) Input(name string) (IOInfo, bool) { return find(s.inputs, name) }

// Output returns the declared output called name.
func (s *Session) Output(name string) (IOInfo, bool) { return find(s.outputs, name) }

func find(list []IOInfo, name string) (IOInfo, bool) {
	for _, v := range list {
		if v.Name == name {
			return v, true
		}
	}
	return IOInfo{}, false
}

// Close releases the session. It is safe to call more than once.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.runOpts.Destroy()
	s.s = nil
	return err
}

// Tensor is host data for one input or output. Float data of any
// precision travels as F32, integer and boolean data as I64; the session
// converts to and from the element type the model declares. F64 carries
// float64 data at full precision (gradient checks need it): when set it
// feeds a float64 input unconverted, and float64 outputs fill it as well
// as F32.
type Tensor struct {
	Shape []int64
	F32   []float32
	I64   []int64
	F64   []float64
}

// Len returns the element count of t's shape.
func (t *Tensor) Len() int {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return int(n)
}

// Run evaluates the model. in holds every declared input by name. out
// names the outputs wanted; for each, a Tensor whose Shape is set and whose
// F32 (or I64) has exactly that many elements is filled in place (no
// allocation: the pipeline reuses its buffers across steps); otherwise Run
// allocates the data and sets Shape. Cancelling ctx stops the run within
// one operator and returns ctx's error.
func (s *Session) Run(ctx context.Context, in map[string]Tensor, out map[string]*Tensor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return fmt.Errorf("ort: run %s: session is closed", s.name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for name := range in {
		if _, ok := s.Input(name); !ok {
			return fmt.Errorf("ort: run %s: the model has no input %q (it declares %s)", s.name, name, listNames(s.inputs))
		}
	}
	for name := range out {
		if _, ok := s.Output(name); !ok {
			return fmt.Errorf("ort: run %s: the model has no output %q (it declares %s)", s.name, name, listNames(s.outputs))
		}
	}
	values := make([]ortgo.Value, 0, len(s.inputs)+len(s.outputs))
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	inVals := make([]ortgo.Value, len(s.inputs))
	for i, info := range s.inputs {
		t, ok := in[info.Name]
		if !ok {
			return fmt.Errorf("ort: run %s: missing input %s", s.name, info)
		}
		v, err := s.inputValue(info, t)
		if err != nil {
			return fmt.Errorf("ort: run %s: %w", s.name, err)
		}
		values = append(values, v)
		inVals[i] = v
	}
	outVals := make([]ortgo.Value, len(s.outputs))
	allPrealloc := true
	for i, info := range s.outputs {
		t, want := out[info.Name]
		if !want {
			continue
		}
		v, err := s.outputValue(info, t, inVals)
		if err != nil {
			return fmt.Errorf("ort: run %s: %w", s.name, err)
		}
		if v == nil {
			allPrealloc = false
			continue
		}
		values = append(values, v)
		outVals[i] = v
	}
	var err error
	if allPrealloc && len(out) < len(s.outputs) {
		// Bind only the wanted outputs: ONNX Runtime then skips copying the
		// rest (SDXL text encoders declare a dozen hidden states).
		err = s.runBound(inVals, outVals)
	} else {
		for i, info := range s.outputs {
			if _, want := out[info.Name]; want || info.DType != Float16 {
				continue
			}
			// onnxruntime_go cannot take float16 outputs that ONNX Runtime
			// allocates, so even unwanted ones need a buffer.
			v, err := s.outputValue(info, &Tensor{}, inVals)
			if err != nil || v == nil {
				return fmt.Errorf("ort: run %s: cannot size float16 output %s; ask for it with a known shape", s.name, info)
			}
			values = append(values, v)
			outVals[i] = v
		}
		stop := context.AfterFunc(ctx, func() { s.runOpts.Terminate() })
		err = s.s.RunWithOptions(inVals, outVals, s.runOpts)
		if !stop() {
			s.runOpts.UnsetTerminate()
			if ctx.Err() != nil {
				return fmt.Errorf("ort: run %s: %w", s.name, ctx.Err())
			}
		}
	}
	if err != nil {
		return fmt.Errorf("ort: run %s: %w", s.name, err)
	}
	for i, info := range s.outputs {
		v := outVals[i]
		if v == nil {
			continue
		}
		t, want := out[info.Name]
		if inOutVals(values, v) {
			if want {
				if err := s.readPrealloc(info, v, t); err != nil {
					return fmt.Errorf("ort: run %s: output %s: %w", s.name, info.Name, err)
				}
			}
			continue
		}
		values = append(values, v)
		if want {
			if err := readAllocated(v, t); err != nil {
				return fmt.Errorf("ort: run %s: output %s: %w", s.name, info.Name, err)
			}
		}
	}
	return nil
}

// runBound runs with an IoBinding holding the inputs and the non-nil
// outputs only.
func (s *Session) runBound(inVals, outVals []ortgo.Value) error {
	b, err := s.s.CreateIoBinding()
	if err != nil {
		return err
	}
	defer b.Destroy()
	for i, info := range s.inputs {
		if err := b.BindInput(info.Name, inVals[i]); err != nil {
			return err
		}
	}
	for i, info := range s.outputs {
		if outVals[i] == nil {
			continue
		}
		if err := b.BindOutput(info.Name, outVals[i]); err != nil {
			return err
		}
	}
	return s.s.RunWithBinding(b)
}

func inOutVals(values []ortgo.Value, v ortgo.Value) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}

func listNames(list []IOInfo) string {
	var b bytes.Buffer
	for i, v := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}
