package ort

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"
)

// ErrNotInitialized is returned by Open and friends before Init succeeded.
var ErrNotInitialized = errors.New("ort: ONNX Runtime is not initialized (call ort.Init with the library path)")

var (
	initMu   sync.Mutex
	initPath string
)

// Init loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment. ONNX Runtime allows one environment per
// process, so later calls with the same path are no-ops and a different
// path is an error.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if ortgo.IsInitialized() {
		if libPath != initPath {
			return fmt.Errorf("ort: already initialized with %s, cannot switch to %s", initPath, libPath)
		}
		return nil
	}
	ortgo.SetSharedLibraryPath(libPath)
	// ONNX Runtime would print each error it returns on stderr too, in
	// terminal colours, before imagegen's own one-line error: only its
	// fatal messages are left to its logger. Every error still reaches the
	// caller, as the returned error.
	if err := ortgo.InitializeEnvironment(logLevelOption()); err != nil {
		return fmt.Errorf("ort: load %s: %w", libPath, err)
	}
	initPath = libPath
	return nil
}

// Initialized reports whether Init has succeeded.
func Initialized() bool { return ortgo.IsInitialized() }

// LibraryPath returns the path Init loaded, or "".
func LibraryPath() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version returns the loaded ONNX Runtime version, such as "1.29.0".
func Version() string {
	if !ortgo.IsInitialized() {
		return ""
	}
	return ortgo.GetVersion()
}

// Providers returns the execution providers this library can use:
// "CPUExecutionProvider" always, and "CUDAExecutionProvider" when the CUDA
// provider library and its CUDA/cuDNN dependencies load. The error explains
// why CUDA is unavailable (nil when it is available).
func Providers() ([]string, error) {
	if !ortgo.IsInitialized() {
		return nil, ErrNotInitialized
	}
	ps := []string{"CPUExecutionProvider"}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return ps, err
	}
	defer so.Destroy()
	if cerr := appendCUDA(so, Options{Device: Device{Kind: DeviceCUDA}}); cerr != nil {
		return ps, cerr
	}
	return append(ps, "CUDAExecutionProvider"), nil
}

// EnvLogLevel names the environment variable that raises ONNX Runtime's own
// logging on stderr for debugging: verbose, info, warning, error or fatal
// (the default).
const EnvLogLevel = "IMAGEGEN_ORT_LOG_LEVEL"

func logLevelOption() ortgo.EnvironmentOption {
	switch strings.ToLower(os.Getenv(EnvLogLevel)) {
	case "verbose":
		return ortgo.WithLogLevelVerbose()
	case "info":
		return ortgo.WithLogLevelInfo()
	case "warning":
		return ortgo.WithLogLevelWarning()
	case "error":
		return ortgo.WithLogLevelError()
	}
	return ortgo.WithLogLevelFatal()
}
