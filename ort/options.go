package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	ortgo "github.com/yalue/onnxruntime_go"
)

// DeviceKind names an execution provider family.
type DeviceKind int

// Device kinds.
const (
	DeviceCPU  DeviceKind = iota // ONNX Runtime's CPU provider
	DeviceCUDA                   // the CUDA provider (errors when unavailable)
	DeviceAuto                   // CUDA when it loads, else CPU with a notice
)

// Device is a parsed --device value.
type Device struct {
	Kind DeviceKind
	ID   int // CUDA device ordinal
}

// String returns the flag form of d.
func (d Device) String() string {
	switch d.Kind {
	case DeviceCUDA:
		if d.ID != 0 {
			return fmt.Sprintf("cuda:%d", d.ID)
		}
		return "cuda"
	case DeviceAuto:
		return "auto"
	}
	return "cpu"
}

// ParseDevice parses "cpu", "cuda", "cuda:N" or "auto" ("" means cpu).
func ParseDevice(s string) (Device, error) {
	switch s = strings.ToLower(strings.TrimSpace(s)); {
	case s == "" || s == "cpu":
		return Device{Kind: DeviceCPU}, nil
	case s == "auto":
		return Device{Kind: DeviceAuto}, nil
	case s == "cuda":
		return Device{Kind: DeviceCUDA}, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return Device{}, fmt.Errorf("ort: bad device %q: want cuda:N with N a device number", s)
		}
		return Device{Kind: DeviceCUDA, ID: n}, nil
	}
	return Device{}, fmt.Errorf("ort: unknown device %q (want cpu, cuda, cuda:N or auto)", s)
}

// OptLevel is ONNX Runtime's graph optimization level.
type OptLevel int

// Graph optimization levels; the zero value means all optimizations.
const (
	OptAll      OptLevel = iota // every optimization, including layout ones
	OptExtended                 // basic plus extended fusions
	OptBasic                    // constant folding and redundant node removal
	OptDisabled                 // none
)

// Options configure sessions. The zero value runs on the CPU with ONNX
// Runtime's default thread counts and every graph optimization.
type Options struct {
	Device Device
	// IntraOpThreads and InterOpThreads set ONNX Runtime's thread pools
	// (0 = ONNX Runtime's default: one thread per physical core).
	IntraOpThreads int
	InterOpThreads int
	OptLevel       OptLevel
	// DisableMemPattern and DisableArena turn off the CPU memory planner and
	// arena (lower peak memory for one-off runs, slower repeated runs).
	DisableMemPattern bool
	DisableArena      bool
	// Config holds extra ONNX Runtime session configuration entries, keyed
	// as in onnxruntime_session_options_config_keys.h (for example
	// "session.intra_op.allow_spinning": "0"). They are applied after the
	// fields above, so an entry here wins over a field that sets the same
	// key.
	Config map[string]string
	// OptimizedModelPath, when set, makes ONNX Runtime write the graph it
	// optimized to this file as the session opens (to inspect which
	// fusions applied, or to cache the result). Initializers of 1 KiB and
	// more go to an external data file beside it named after it plus
	// "_data" (Config may override both settings).
	OptimizedModelPath string
	// Cache, when set, keeps the graphs ONNX Runtime optimizes so later
	// loads of the same model skip the optimizer (see GraphCache). It is
	// not used when OptimizedModelPath is set.
	Cache *GraphCache
	// CUDAMemLimit caps the CUDA arena in bytes (0 = no limit).
	CUDAMemLimit int64
	// CUDNNConvAlgoSearch is "EXHAUSTIVE", "HEURISTIC" or "DEFAULT"
	// ("" = HEURISTIC, fast to start).
	CUDNNConvAlgoSearch string
	// Notice receives one-line notices such as the CPU fallback of
	// DeviceAuto; nil discards them.
	Notice func(msg string)
}

func (o *Options) sessionOptions() (*ortgo.SessionOptions, Device, error) {
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, o.Device, err
	}
	fail := func(err error) (*ortgo.SessionOptions, Device, error) {
		so.Destroy()
		return nil, o.Device, err
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail(err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail(err)
		}
	}
	level := map[OptLevel]ortgo.GraphOptimizationLevel{
		OptAll:      ortgo.GraphOptimizationLevelEnableAll,
		OptExtended: ortgo.GraphOptimizationLevelEnableExtended,
		OptBasic:    ortgo.GraphOptimizationLevelEnableBasic,
		OptDisabled: ortgo.GraphOptimizationLevelDisableAll,
	}[o.OptLevel]
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fail(err)
	}
	if o.DisableMemPattern {
		if err := so.SetMemPattern(false); err != nil {
			return fail(err)
		}
	}
	if o.DisableArena {
		if err := so.SetCpuMemArena(false); err != nil {
			return fail(err)
		}
	}
	config := o.Config
	if o.OptimizedModelPath != "" {
		if err := so.SetOptimizedModelFilePath(o.OptimizedModelPath); err != nil {
			return fail(err)
		}
		// A protobuf file holds 2 GiB at most, so weights go beside it, as
		// Optimum's exports keep them (model.onnx + model.onnx_data).
		config = map[string]string{
			cfgOptimizedDataFile:    filepath.Base(o.OptimizedModelPath) + "_data",
			cfgOptimizedDataMinSize: "1024",
		}
		for k, v := range o.Config {
			config[k] = v
		}
	}
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order keeps errors reproducible
	for _, k := range keys {
		if err := so.AddSessionConfigEntry(k, config[k]); err != nil {
			return fail(fmt.Errorf("session config %s=%q: %w", k, config[k], err))
		}
	}
	dev := o.Device
	switch dev.Kind {
	case DeviceCUDA:
		if err := appendCUDA(so, *o); err != nil {
			return fail(err)
		}
	case DeviceAuto:
		if err := appendCUDA(so, *o); err != nil {
			if o.Notice != nil {
				o.Notice("CUDA unavailable, running on the CPU: " + firstLine(err.Error()))
			}
			dev = Device{Kind: DeviceCPU}
		} else {
			dev = Device{Kind: DeviceCUDA, ID: o.Device.ID}
		}
	}
	return so, dev, nil
}

// appendCUDA adds the CUDA execution provider to so.
func appendCUDA(so *ortgo.SessionOptions, o Options) error {
	if lib := LibraryPath(); lib != "" {
		dir := filepath.Dir(lib)
		for _, name := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("ort: CUDA execution provider unavailable: %s is not beside %s (this ONNX Runtime build is CPU-only; use a GPU build with --ort-lib, with CUDA's libcublas/libcudart and cuDNN's libcudnn on the library path)", name, lib)
			}
		}
	}
	co, err := ortgo.NewCUDAProviderOptions()
	if err != nil {
		return cudaError(err)
	}
	defer co.Destroy()
	algo := o.CUDNNConvAlgoSearch
	if algo == "" {
		algo = "HEURISTIC"
	}
	kv := map[string]string{
		"device_id":              strconv.Itoa(o.Device.ID),
		"cudnn_conv_algo_search": algo,
		"arena_extend_strategy":  "kSameAsRequested",
	}
	if o.CUDAMemLimit > 0 {
		kv["gpu_mem_limit"] = strconv.FormatInt(o.CUDAMemLimit, 10)
	}
	if err := co.Update(kv); err != nil {
		return cudaError(err)
	}
	if err := so.AppendExecutionProviderCUDA(co); err != nil {
		return cudaError(err)
	}
	return nil
}

func cudaError(err error) error {
	msg := firstLine(err.Error())
	// ONNX Runtime prefixes its messages with a source location; keep the
	// part a user can act on.
	if i := strings.LastIndex(msg, "] : "); i >= 0 {
		msg = msg[i+len("] : "):]
	}
	return fmt.Errorf("ort: CUDA execution provider unavailable (it needs libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so beside libonnxruntime, plus CUDA's libcublas/libcudart and cuDNN's libcudnn on the library path): %s", msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Session configuration keys used by Options.
const (
	cfgOptimizedDataFile    = "session.optimized_model_external_initializers_file_name"
	cfgOptimizedDataMinSize = "session.optimized_model_external_initializers_min_size_in_bytes"
	cfgExternalDataFolder   = "session.model_external_initializers_file_folder_path"
	cfgSavePrepacked        = "session.save_external_prepacked_constant_initializers"
)
